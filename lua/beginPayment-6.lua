#!lua flags=allow-oom
--[[
  beginPayment: held -> paying, before the payment provider is called (the
  saga's pivot). Puts the hold in the paying index with a deadline of
  now + paymentWindowMs (never earlier than the hold's own); the due index
  skips paying holds, so expiry cannot race a payment in flight. The record
  keeps its original expires_at (what the client was told). Repeating it returns
  the same answer until the payment deadline; past it no charge may begin (the
  overdue recovery voids the charge at the provider, then settles the hold), so
  a paying hold past its deadline is refused with -17.

  Allowed past maxmemory (allow-oom): it settles an existing hold.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] paying  KEYS[4] users  KEYS[5] gc
  KEYS[6] meta
  ARGV[1] id  ARGV[2] paymentWindowMs  ARGV[3] retentionMs

  Returns
    {   1, deadlineMs, totalCents, parts, record }  paying (now or already);
        parts: the cart's partitions, comma separated, on the home part of a
        cart, else ''; record: the hold's record as stored (includes/record.lua),
        so that the saga needs no second call for the lines it charges for
    { -10 }  no such hold          { -11 }  expired (now or before)
    { -12 }  released              { -13, orderId }  confirmed already
    { -14 }  a cart still being reserved
    { -17 }  paying, and past its payment deadline: begin no charge
    { -30, reason }  the partition is fenced (lua/includes/fence.lua): nothing changed
    or any other status code of includes/status.lua (statusReply)
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "status"
--- @include "counts"
--- @include "fence"
local skusKey, holdsKey, payingKey, usersKey, gcKey, metaKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, windowMs, retentionMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local fence = fenceReason(metaKey)
if fence then return { FENCED, fence } end
local now = nowMs(metaKey)
countHoldsIn(metaKey, 'access')

local rec = loadRecord(holdsKey, id)
if not rec then return { NOT_FOUND } end
if expireIfDue(skusKey, holdsKey, usersKey, gcKey, id, rec, now, retentionMs) then
  return { EXPIRED }
end
if rec.status == 'held' then
  rec.status = 'paying'
  saveRecord(holdsKey, id, rec)
  redis.call('ZADD', payingKey, math.max(rec.expires, now + windowMs), id)
end
if rec.status == 'paying' then
  local deadline = tonumber(redis.call('ZSCORE', payingKey, id) or rec.expires)
  if now >= deadline then return { OVERDUE } end
  return { 1, deadline, totalCents(rec), rec.parts, redis.call('HGET', holdsKey, id) }
end
return statusReply(rec)
