#!lua
--[[
  adjustStock: restock (delta > 0) or shrink (delta < 0) a SKU. A shrink takes
  only available units and never takes `available` below zero. Appends a
  `stock` event to the outbox in the same step.

  KEYS[1] skus  KEYS[2] outbox  KEYS[3] meta
  ARGV[1] sku  ARGV[2] delta (a non-zero integer)

  Returns
    { 1, total, available }   adjusted
    { -3 }                    no such sku
    { -21, available }        the shrink would take available below zero
]]
--- @include "clock"
local skusKey, outboxKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local sku, delta = ARGV[1], tonumber(ARGV[2])

local available = redis.call('HGET', skusKey, sku .. ':a')
if not available then
  return { -3 }
end
available = tonumber(available)
if available + delta < 0 then
  return { -21, available }
end
local total = redis.call('HINCRBY', skusKey, sku .. ':t', delta)
available = redis.call('HINCRBY', skusKey, sku .. ':a', delta)
local event = { t = 'stock', sku = sku, delta = delta, total = total, at = nowMs(metaKey) }
redis.call('XADD', outboxKey, '*', 'e', cmsgpack.pack(event))
return { 1, total, available }
