#!lua flags=allow-oom
--[[
  commitHold: paying -> confirmed after a captured payment; moves the
  hold's units reserved -> sold and appends the `order` event to the outbox in
  the same step. Repeating it returns the first outcome and appends nothing.

  Allowed past maxmemory (allow-oom): it settles an existing hold.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] paying  KEYS[4] gc  KEYS[5] outbox
  KEYS[6] meta
  ARGV[1] id  ARGV[2] orderId  ARGV[3] amountCents  ARGV[4] paymentRef
  ARGV[5] retentionMs

  Returns
    {   1, orderId, parts }  confirmed (now or before); parts as in beginPayment
    { -10 }  no such hold   { -11 }  expired   { -12 }  released
    { -14 }  a cart still being reserved   { -16 }  held: payment not begun
    { -30, reason }  the partition is fenced (lua/includes/fence.lua): nothing changed; the
             saga stays paying and is committed once the fence is lifted
    or any other status code of includes/status.lua (statusReply)
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "status"
--- @include "counts"
--- @include "outbox"
--- @include "fence"
local skusKey, holdsKey, payingKey, gcKey, outboxKey, metaKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, orderId, amountCents, paymentRef = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local retentionMs = tonumber(ARGV[5])
local fence = fenceReason(metaKey)
if fence then return { FENCED, fence } end
local now = nowMs(metaKey)
countHoldsIn(metaKey, 'access')

local rec = loadRecord(holdsKey, id)
if not rec then return { NOT_FOUND } end
local s = rec.status
if s == 'confirmed' then return { 1, rec.order, rec.parts } end
if s ~= 'paying' then return statusReply(rec) end

moveReserved(skusKey, nil, rec, 's')
rec.order = orderId
endRecord(holdsKey, gcKey, id, rec, 'confirmed', now, retentionMs)
redis.call('ZREM', payingKey, id)
appendOrder(outboxKey, metaKey, id, rec, amountCents, paymentRef, now)
return { 1, orderId, rec.parts }
