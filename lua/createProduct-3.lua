#!lua
--[[
  createProduct: adds a SKU to its partition with all of its stock available,
  and appends a `product` event to the partition's outbox in the same step.

  KEYS[1] skus    hash  <sku>:t|a|r|s total/available/reserved/sold, :p price, :l limit, :n name
  KEYS[2] outbox  stream of msgpack events for write-through to Postgres
  KEYS[3] meta    hash  clock_offset_ms

  ARGV[1] sku  ARGV[2] name  ARGV[3] price_cents  ARGV[4] per_user_limit (0: none)
  ARGV[5] stock

  Returns
     1  created
   -20  a product with this sku exists (nothing changed)
]]
--- @include "clock"
local skusKey, outboxKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local sku, name = ARGV[1], ARGV[2]
local price, limit, stock = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

if redis.call('HEXISTS', skusKey, sku .. ':t') == 1 then
  return -20
end
redis.call('HSET', skusKey, sku .. ':t', stock, sku .. ':a', stock, sku .. ':r', 0,
  sku .. ':s', 0, sku .. ':p', price, sku .. ':l', limit, sku .. ':n', name)
local event = { t = 'product', sku = sku, name = name, price = price, limit = limit,
  stock = stock, at = nowMs(metaKey) }
redis.call('XADD', outboxKey, '*', 'e', cmsgpack.pack(event))
return 1
