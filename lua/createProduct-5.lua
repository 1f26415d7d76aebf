#!lua
--[[
  createProduct: adds a SKU to its partition with all of its stock available,
  and appends a `product` event to the partition's outbox in the same step.

  KEYS[1] skus    hash  <sku>:t|a|r|s total/available/reserved/sold, :p price, :l limit, :n name
  KEYS[2] holds   hash  (records: here the operation id's first reply)
  KEYS[3] gc      zset  record groups to purge
  KEYS[4] outbox  stream of msgpack events for write-through to Postgres
  KEYS[5] meta    hash  clock_offset_ms

  ARGV[1] sku  ARGV[2] name  ARGV[3] price_cents  ARGV[4] per_user_limit (0: none)
  ARGV[5] stock  ARGV[6] operation id ('' none)  ARGV[7] retentionMs

  Returns (a repeat of an operation id returns its first reply)
     { 1 }    created
     { -20 }  a product with this sku exists (nothing changed)
     { -30, reason }  the partition is fenced (lua/includes/fence.lua): nothing changed
]]
--- @include "clock"
--- @include "record"
--- @include "ops"
--- @include "outbox"
--- @include "fence"
local skusKey, holdsKey, gcKey, outboxKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sku, name = ARGV[1], ARGV[2]
local price, limit, stock = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local opId, retentionMs = ARGV[6], tonumber(ARGV[7])

local first = repeatedOp(holdsKey, opId)
if first then return first end
local fence = fenceReason(metaKey)
if fence then return { FENCED, fence } end
local now = nowMs(metaKey)
if redis.call('HEXISTS', skusKey, sku .. ':t') == 1 then
  return recordOp(holdsKey, gcKey, opId, { -20 }, now + retentionMs)
end
redis.call('HSET', skusKey, sku .. ':t', stock, sku .. ':a', stock, sku .. ':r', 0,
  sku .. ':s', 0, sku .. ':p', price, sku .. ':l', limit, sku .. ':n', name)
appendProduct(outboxKey, metaKey, sku, name, price, limit, stock, now)
return recordOp(holdsKey, gcKey, opId, { 1 }, now + retentionMs)
