#!lua
--[[
  releaseHold: gives a hold's units back to `available` at once.
  Modes:
    'client'      held -> released (a paying hold is refused: payment in progress)
    'declined'    held or paying -> released (the saga's compensation); the record
                  notes it, so a repeated confirm answers "declined" again
    'compensate'  held or paying -> released (another part of the cart expired
                  before its payment began)
    'abort'       pending or held -> aborted, recording ARGV[3..5] as the outcome a
                  replay of the request gets (a multi-partition cart that failed);
                  an expired part keeps its status but records the outcome too
  Repeating a release returns the same answer.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] paying  KEYS[4] users  KEYS[5] gc
  KEYS[6] meta
  ARGV[1] id  ARGV[2] mode  ARGV[3] noteCode  ARGV[4] noteA  ARGV[5] noteB
  ARGV[6] retentionMs

  Returns
    {   1, parts }  released (or aborted) now or before; parts as in beginPayment
    { -10 }  no such hold   { -11 }  expired   { -13, orderId }  confirmed
    { -14 }  a cart still being reserved   { -15 }  payment in progress
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "status"
local skusKey, holdsKey, payingKey, usersKey, gcKey, metaKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, mode, retentionMs = ARGV[1], ARGV[2], tonumber(ARGV[6])
local now = nowMs(metaKey)

local rec = loadRecord(holdsKey, id)
if not rec then return { NOT_FOUND } end
local s = rec.status
if s == 'released' and mode ~= 'abort' then return { 1, rec.parts } end
if s == 'aborted' and mode == 'abort' then return { 1, rec.parts } end
local note = ARGV[3] .. ',' .. ARGV[4] .. ',' .. ARGV[5]
if expireIfDue(skusKey, holdsKey, usersKey, gcKey, id, rec, now, retentionMs) or rec.status == 'expired' then
  if mode == 'abort' and rec.note == '' then
    rec.note = note
    saveRecord(holdsKey, id, rec)
  end
  return { EXPIRED }
end

local allowed = s == 'held' or (s == 'paying' and (mode == 'declined' or mode == 'compensate'))
  or (s == 'pending' and mode == 'abort')
if not allowed then return statusReply(rec) end

moveReserved(skusKey, usersKey, rec, 'a')
local status = 'released'
if mode == 'declined' then rec.note = 'declined' end
if mode == 'abort' then
  status = 'aborted'
  rec.note = note
end
endRecord(holdsKey, gcKey, id, rec, status, now, retentionMs)
redis.call('ZREM', payingKey, id)
return { 1, rec.parts }
