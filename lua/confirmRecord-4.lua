#!lua flags=allow-oom
--[[
  confirmRecord: in a partition fenced because its Redis went back in time (an
  older AOF, a promoted replica), records as confirmed a hold whose order part
  PostgreSQL has: the rolled-back Redis has it missing (made after the copy),
  or in the state it had then (held, pending, paying), or ended since without
  its payment (expired, released). No count moves here: the reconciler's repair
  sets the partition's counts to PostgreSQL's next, and reserved from the live
  holds, which no longer include this one. Refused in a partition not fenced
  (counts there are live). A repeat finds the record confirmed.

  KEYS[1] holds  KEYS[2] paying  KEYS[3] gc  KEYS[4] meta
  ARGV[1] id  ARGV[2] orderId  ARGV[3] userId  ARGV[4] home ('' on the home part)
  ARGV[5] parts (on a cart's home part: its partitions, comma separated)
  ARGV[6] retentionMs  ARGV[7] line count  ARGV[8..] per line: sku, qty, price_cents

  Returns
    {   1, orderId }  confirmed (now, or before: the order id it has)
    { -31 }  the partition is not fenced: nothing changed
]]
--- @include "clock"
--- @include "record"
--- @include "counts"
local holdsKey, payingKey, gcKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, orderId, userId, home, parts = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local retentionMs, lineCount = tonumber(ARGV[6]), tonumber(ARGV[7])
if not redis.call('HGET', metaKey, 'fenced') then return { -31 } end
countHoldsIn(metaKey, 'access')

local rec = loadRecord(holdsKey, id)
if rec and rec.status == 'confirmed' then return { 1, rec.order } end
local now = nowMs(metaKey)
if not rec then
  local lines = {}
  for i = 0, lineCount - 1 do
    lines[#lines + 1] = ARGV[8 + i * 3]
    lines[#lines + 1] = tonumber(ARGV[9 + i * 3])
    lines[#lines + 1] = tonumber(ARGV[10 + i * 3])
    lines[#lines + 1] = 0
  end
  rec = { status = 'confirmed', created = now, expires = now, home = home, parts = parts, ended = now, order = orderId,
    note = '', lines = lines, user = userId }
end
rec.order = orderId
rec.note = ''
endRecord(holdsKey, gcKey, id, rec, 'confirmed', now, retentionMs)
redis.call('ZREM', payingKey, id)
return { 1, orderId }
