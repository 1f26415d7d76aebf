#!lua
--[[
  adjustStock: restock (delta > 0) or shrink (delta < 0) a SKU. A shrink takes
  only available units and never takes `available` below zero. Appends a
  `stock` event to the outbox in the same step.

  KEYS[1] skus  KEYS[2] holds (operation ids' first replies)  KEYS[3] gc
  KEYS[4] outbox  KEYS[5] meta
  ARGV[1] sku  ARGV[2] delta (a non-zero integer)  ARGV[3] operation id ('' none)
  ARGV[4] retentionMs

  Returns (a repeat of an operation id returns its first reply, changing nothing)
    { 1, total, available }   adjusted
    { -3 }                    no such sku
    { -21, available }        the shrink would take available below zero
    { -30, reason }           the partition is fenced (lua/includes/fence.lua): nothing changed
]]
--- @include "clock"
--- @include "record"
--- @include "ops"
--- @include "outbox"
--- @include "fence"
--- @include "freed"
local skusKey, holdsKey, gcKey, outboxKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sku, delta, opId, retentionMs = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])

local first = repeatedOp(holdsKey, opId)
if first then return first end
local fence = fenceReason(metaKey)
if fence then return { FENCED, fence } end
local now = nowMs(metaKey)
local available = redis.call('HGET', skusKey, sku .. ':a')
if not available then
  return recordOp(holdsKey, gcKey, opId, { -3 }, now + retentionMs)
end
available = tonumber(available)
if available + delta < 0 then
  return recordOp(holdsKey, gcKey, opId, { -21, available }, now + retentionMs)
end
local total = redis.call('HINCRBY', skusKey, sku .. ':t', delta)
available = redis.call('HINCRBY', skusKey, sku .. ':a', delta)
unitsFreed(skusKey, sku, available, delta)
appendStock(outboxKey, metaKey, sku, delta, total, now)
return recordOp(holdsKey, gcKey, opId, { 1, total, available }, now + retentionMs)
