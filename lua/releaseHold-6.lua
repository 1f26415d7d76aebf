#!lua flags=allow-oom
--[[
  releaseHold: gives a hold's units back to `available` at once.
  Modes (the record's note keeps why a hold was released, so a repeated
  confirm answers the same outcome):
    'client'      held -> released (a paying hold is refused: payment in progress)
    'declined'    held or paying -> released; note 'declined' (the charge was declined)
    'voided'      held or paying -> released; note 'voided' (the overdue recovery
                  voided the charge at the provider before any capture)
    'compensate'  held or paying -> released; note 'compensated' (another part of
                  the cart expired before its payment began)
    'abort'       pending or held -> aborted, recording ARGV[3..5] as the outcome a
                  replay of the request gets (a multi-partition cart that failed);
                  an expired part keeps its status but records the outcome too
    'abandon'     a request that failed before its caller got an answer: a
                  pending cart home -> aborted, and a part of a cart held ->
                  aborted; a home already activated (or a single hold) stays as
                  it is, for the retry with its Idempotency-Key to find
    'abandon-any' as 'abandon', and a held home or single hold -> aborted too
                  (a request without a key: no one can ever ask for it)
  The abandon modes leave an aborted tombstone for an id with no record, so a
  reserve of that id that arrives late (a resend) finds the id taken.
  Repeating a release returns the same answer.

  Allowed past maxmemory (allow-oom): it settles an existing hold.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] paying  KEYS[4] users  KEYS[5] gc
  KEYS[6] meta
  ARGV[1] id  ARGV[2] mode  ARGV[3] noteCode  ARGV[4] noteA  ARGV[5] noteB
  ARGV[6] retentionMs

  Returns
    {   1, parts }  released (or aborted) now or before; parts as in beginPayment
    { -10 }  no such hold   { -11 }  expired   { -12 }  released ('abandon' only)
    { -13, orderId }  confirmed   { -14 }  a cart still being reserved
    { -15 }  payment in progress   { -16 }  held ('abandon' only)
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "status"
local skusKey, holdsKey, payingKey, usersKey, gcKey, metaKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, mode, retentionMs = ARGV[1], ARGV[2], tonumber(ARGV[6])
local now = nowMs(metaKey)
local note = ARGV[3] .. ',' .. ARGV[4] .. ',' .. ARGV[5]
local ABANDONING = { abandon = true, ['abandon-any'] = true }
local ABORTING = { abort = true, abandon = true, ['abandon-any'] = true }
local REASONS = { declined = 'declined', voided = 'voided', compensate = 'compensated' }

local rec = loadRecord(holdsKey, id)
if not rec then
  if not ABANDONING[mode] then return { NOT_FOUND } end
  local tombstone = { status = 'aborted', created = now, expires = now, home = '', parts = '', ended = now,
    order = '', note = note, lines = {}, user = '' }
  endRecord(holdsKey, gcKey, id, tombstone, 'aborted', now, retentionMs)
  return { 1, '' }
end
local s = rec.status
if s == 'released' and not ABORTING[mode] then return { 1, rec.parts } end
if s == 'aborted' and ABORTING[mode] then
  -- A cart refused (its note says why, and a replay answers it) is no request given back.
  if ABANDONING[mode] and rec.note ~= note then return { NOT_FOUND } end
  return { 1, rec.parts }
end
if mode == 'abandon' and rec.home == '' and s ~= 'pending' and s ~= 'expired' then return statusReply(rec) end
if expireIfDue(skusKey, holdsKey, usersKey, gcKey, id, rec, now, retentionMs) or rec.status == 'expired' then
  if mode == 'abort' and rec.note == '' then
    rec.note = note
    saveRecord(holdsKey, id, rec)
  end
  return { EXPIRED }
end

local allowed = s == 'held' or (s == 'paying' and REASONS[mode] ~= nil) or (s == 'pending' and ABORTING[mode])
if not allowed then return statusReply(rec) end

moveReserved(skusKey, usersKey, rec, 'a')
local status = 'released'
if REASONS[mode] then rec.note = REASONS[mode] end
if ABORTING[mode] then
  status = 'aborted'
  rec.note = note
end
endRecord(holdsKey, gcKey, id, rec, status, now, retentionMs)
redis.call('ZREM', payingKey, id)
return { 1, rec.parts }
