#!lua flags=allow-oom
--[[
  releaseHold: gives a hold's units back to `available` at once.
  Modes (the record's note keeps why a hold was released, so a repeated
  confirm answers the same outcome):
    'client'      held -> released (a paying hold is refused: payment in progress)
    'declined'    held or paying -> released; note 'declined' (the charge was declined)
    'voided'      held or paying -> released; note 'voided' (the overdue recovery
                  voided the charge at the provider before any capture); the id
                  goes to the voided index, due ARGV[7] ms later: the recovery
                  then asks the provider again, and refunds a capture that a
                  provider ignoring the void let through
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
  reserve of that id that arrives late (a resend) finds the id taken; a cart
  home that expired while still pending (note 'unfinished') counts as given back.
  Repeating a release returns the same answer.

  Allowed past maxmemory (allow-oom): it settles an existing hold.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] paying  KEYS[4] users  KEYS[5] gc
  KEYS[6] meta  KEYS[7] voided (zset: id -> when to look at the provider again)
  ARGV[1] id  ARGV[2] mode  ARGV[3] noteCode  ARGV[4] noteA  ARGV[5] noteB
  ARGV[6] retentionMs  ARGV[7] voidRecheckMs

  Returns
    {   1, parts }  released (or aborted) now or before; parts as in beginPayment
    {   1, parts, 'refused' }  (abandon modes) a cart refused before: aborted, and
                    its replay answers the refusal
    { -10 }  no such hold   { -11 }  expired   { -12 }  released ('abandon' only)
    { -13, orderId }  confirmed   { -14 }  a cart still being reserved
    { -15 }  payment in progress   { -16 }  held ('abandon' only)
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "status"
--- @include "counts"
local skusKey, holdsKey, payingKey, usersKey, gcKey, metaKey, voidedKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id, mode, retentionMs = ARGV[1], ARGV[2], tonumber(ARGV[6])
local now = nowMs(metaKey)
countHoldsIn(metaKey, 'access')
local note = outcomeNote(ARGV[3], ARGV[4], ARGV[5])
local ABANDONING = { abandon = true, ['abandon-any'] = true }
local REASONS = { declined = 'declined', voided = 'voided', compensate = 'compensated' }

local rec = loadRecord(holdsKey, id)

-- Gives back a request that failed before its caller got an answer: only what
-- never became a reservation a retry may find ('abandon-any' also a held home).
local function abandon()
  if not rec then
    -- Never reserved here: a tombstone, so that a late resend of its reserve holds nothing.
    local tombstone = { status = 'aborted', created = now, expires = now, home = '', parts = '', ended = now,
      order = '', note = note, lines = {}, user = '' }
    endRecord(holdsKey, gcKey, id, tombstone, 'aborted', now, retentionMs)
    return { 1, '' }
  end
  local s = rec.status
  if s == 'aborted' then
    -- A refused cart: given back, but its replay answers the refusal (the key stays).
    if not sameNote(rec.note, note) then return { 1, rec.parts, 'refused' } end
    return { 1, rec.parts }
  end
  if s == 'expired' then
    if rec.note == 'unfinished' then return { 1, rec.parts } end
    return { EXPIRED }
  end
  local givable = s == 'pending' or (s == 'held' and (rec.home ~= '' or mode == 'abandon-any'))
  if not givable then return statusReply(rec) end
  moveReserved(skusKey, usersKey, rec, 'a')
  rec.note = note
  endRecord(holdsKey, gcKey, id, rec, 'aborted', now, retentionMs)
  return { 1, rec.parts }
end

if ABANDONING[mode] then return abandon() end
if not rec then return { NOT_FOUND } end
local s = rec.status
if s == 'released' and mode ~= 'abort' then return { 1, rec.parts } end
if s == 'aborted' and mode == 'abort' then return { 1, rec.parts } end
if expireIfDue(skusKey, holdsKey, usersKey, gcKey, id, rec, now, retentionMs) or rec.status == 'expired' then
  -- A refused cart part that expired meanwhile still records why, for the replay.
  if mode == 'abort' and (rec.note == '' or rec.note == 'unfinished') then
    rec.note = note
    saveRecord(holdsKey, id, rec)
  end
  return { EXPIRED }
end

local allowed = s == 'held' or (s == 'paying' and REASONS[mode] ~= nil) or (s == 'pending' and mode == 'abort')
if not allowed then return statusReply(rec) end

moveReserved(skusKey, usersKey, rec, 'a')
local status = 'released'
if REASONS[mode] then rec.note = REASONS[mode] end
if mode == 'abort' then
  status = 'aborted'
  rec.note = note
end
endRecord(holdsKey, gcKey, id, rec, status, now, retentionMs)
redis.call('ZREM', payingKey, id)
-- (the home part only: the id names its partition)
if mode == 'voided' and rec.home == '' then redis.call('ZADD', voidedKey, now + tonumber(ARGV[7]), id) end
return { 1, rec.parts }
