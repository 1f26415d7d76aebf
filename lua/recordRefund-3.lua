#!lua flags=allow-oom
--[[
  recordRefund: notes on a released (or expired, or aborted) hold that the capture which
  landed after its release was refunded at the provider, and appends a `refund`
  event to the outbox in the same step (write-through records it in
  PostgreSQL). A confirmed hold is never refunded here. Repeating it returns the
  first outcome and appends nothing. Allowed past maxmemory: it settles money
  already taken.

  KEYS[1] holds  KEYS[2] outbox  KEYS[3] meta
  ARGV[1] id  ARGV[2] amountCents  ARGV[3] refund reference  ARGV[4] reason

  Returns
    {   1 }  recorded (now or before)
    { -13, orderId }  confirmed: its capture is the order's, not refundable here
    other status codes of includes/status.lua for a hold still live
]]
--- @include "clock"
--- @include "record"
--- @include "status"
--- @include "outbox"
local holdsKey, outboxKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local id, amountCents, reference, reason = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]

local rec = loadRecord(holdsKey, id)
local user = ''
if rec then
  if rec.note == 'refunded' then return { 1 } end
  if rec.status ~= 'released' and rec.status ~= 'expired' and rec.status ~= 'aborted' then return statusReply(rec) end
  rec.note = 'refunded'
  saveRecord(holdsKey, id, rec)
  user = rec.user
end
appendRefund(outboxKey, metaKey, id, user, amountCents, reference, reason, nowMs(metaKey))
return { 1 }
