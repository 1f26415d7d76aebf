--- @include "counts"
-- Hold records: one string per hold, a field of the partition's holds hash.
-- This file is the format's one writer and one reader in Lua (every script
-- builds and reads records through it); engine/redis/records.ts is the reader
-- in TypeScript, and both are checked against test/fixtures/records.json.
--
-- Fields are joined by \31 (unit separator, never in a sku, id or number).
-- Version 2, written now:
--   '2', status, created_ms, expires_ms, home, parts, ended_ms, order_id,
--   note, outcome_code, outcome_a, outcome_b, line_count, then per line: sku,
--   qty, price_cents, counted, and last the user_id (which may hold any
--   character, so it takes the rest).
-- Version 1, read only (records live for the retention window, so those
-- written before an upgrade are still read): no version field, so it starts
-- with its status word; its header is status ... order_id, note, line_count,
-- with the note one text: a word, or an outcome as "code,a,b".
--
-- `home`: the home partition, on another part of a multi-partition cart.
-- `parts`: every partition of such a cart, comma separated, on its home part.
-- `note` is one slot: a word ('' none, 'unfinished', 'declined', 'voided',
-- 'compensated', 'refunded'), or 'outcome' with the recorded outcome of a
-- rejected or aborted request in the next three fields (empty otherwise):
-- the reply triple code, a, b (code 0: given back without a refusal).
-- `counted` is 1 when the per-user counter holds the line's units.
--
-- Decoded, a record is a table: status, created, expires, home, parts (text),
-- ended, order, note (a word, or { code, a, b }), lines (flat, LINE_STRIDE
-- values per line: sku, qty, price_cents, counted), user; and `was`, the status
-- it was read with (saveRecord counts the move: counts.lua).
-- Built by concatenation, measured cheaper than cmsgpack.pack (docs/design.md,
-- "Key layout", has the figures): the reserve path builds one per hold (with
-- recordLine and recordText).
local SEP = '\31'
local LINE_STRIDE = 4
local RECORD_VERSION = '2'
local OUTCOME = 'outcome'

local function num(n)
  if type(n) == 'number' then return string.format('%d', n) end
  return n
end

-- The text of one line of a record; a record's lines are these, concatenated.
local function recordLine(sku, qty, priceCents, counted)
  return sku .. SEP .. qty .. SEP .. priceCents .. SEP .. counted .. SEP
end

-- A record (version 2) from its fields as texts (the note a word or an
-- outcome table); `lines` is its lineCount recordLine texts, concatenated.
local function recordText(status, created, expires, home, parts, ended, order, note, lineCount, lines, user)
  local word, code, a, b = note, '', '', ''
  if type(note) == 'table' then word, code, a, b = OUTCOME, num(note[1]), note[2], num(note[3]) end
  return RECORD_VERSION .. SEP .. status .. SEP .. created .. SEP .. expires .. SEP .. home .. SEP .. parts .. SEP ..
    ended .. SEP .. order .. SEP .. word .. SEP .. code .. SEP .. a .. SEP .. b .. SEP .. lineCount .. SEP .. lines .. user
end

local function encodeRecord(r)
  local lines, text = r.lines, {}
  for i = 1, #lines, LINE_STRIDE do
    text[#text + 1] = recordLine(lines[i], num(lines[i + 1]), num(lines[i + 2]), num(lines[i + 3]))
  end
  return recordText(r.status, num(r.created), num(r.expires), r.home, r.parts, num(r.ended), r.order, r.note, num(#text),
    table.concat(text), r.user)
end

-- A recorded outcome (a note) from the reply triple code, a, b (texts or numbers).
local function outcomeNote(code, a, b)
  return { tonumber(code), a, tonumber(b) }
end

-- Whether two notes are the same word or the same outcome.
local function sameNote(x, y)
  if type(x) ~= 'table' or type(y) ~= 'table' then return x == y end
  return x[1] == y[1] and x[2] == y[2] and x[3] == y[3]
end

-- Reads count fields into f from pos; returns the position after them.
local function readFields(raw, pos, f, count)
  for i = 1, count do
    local e = string.find(raw, SEP, pos, true)
    f[i] = string.sub(raw, pos, e - 1)
    pos = e + 1
  end
  return pos
end

-- A decoded record from its header fields f (status first, line_count at
-- f[at]), its note, and the lines and user that follow at pos.
local function decodedRecord(raw, pos, f, note, at)
  local lines = {}
  for i = 1, tonumber(f[at]) * LINE_STRIDE do
    local e = string.find(raw, SEP, pos, true)
    local v = string.sub(raw, pos, e - 1)
    if i % LINE_STRIDE ~= 1 then v = tonumber(v) end
    lines[i] = v
    pos = e + 1
  end
  return { status = f[1], was = f[1], created = tonumber(f[2]), expires = tonumber(f[3]), home = f[4], parts = f[5],
    ended = tonumber(f[6]), order = f[7], note = note, lines = lines, user = string.sub(raw, pos) }
end

-- Version 1's note: a word, or an outcome "code,a,b" (a is a sku: no comma).
local function v1Note(text)
  local code, a, b = string.match(text, '^(-?%d+),([^,]*),(-?%d+)$')
  if code then return outcomeNote(code, a, b) end
  return text
end

local function decodeRecord(raw)
  local f = {}
  if string.sub(raw, 1, 2) == RECORD_VERSION .. SEP then
    local pos = readFields(raw, 3, f, 12)
    local note = f[8]
    if note == OUTCOME then note = outcomeNote(f[9], f[10], f[11]) end
    return decodedRecord(raw, pos, f, note, 12)
  end
  if not string.find(raw, '^%l') then error('hold record of unknown version: ' .. string.sub(raw, 1, 8)) end
  local pos = readFields(raw, 1, f, 9)
  return decodedRecord(raw, pos, f, v1Note(f[8]), 9)
end

local function totalCents(rec)
  local total, lines = 0, rec.lines
  for i = 1, #lines, LINE_STRIDE do total = total + lines[i + 1] * lines[i + 2] end
  return total
end

-- The partitions of a multi-partition cart (on its home part) as numbers; else empty.
local function recordParts(rec)
  local parts = {}
  for p in string.gmatch(rec.parts, '[^,]+') do parts[#parts + 1] = tonumber(p) end
  return parts
end

local function loadRecord(holdsKey, id)
  local raw = redis.call('HGET', holdsKey, id)
  if not raw then return nil end
  return decodeRecord(raw)
end

local function saveRecord(holdsKey, id, rec)
  countMove(rec, rec.was)
  rec.was = rec.status
  redis.call('HSET', holdsKey, id, encodeRecord(rec))
end

-- The gc index holds groups: each member is a msgpack array of record fields
-- (hold ids, or idempotency keys) that may be purged after the member's score.
local function addGarbage(gcKey, purgeAtMs, fields)
  if #fields > 0 then
    redis.call('ZADD', gcKey, purgeAtMs, cmsgpack.pack(fields))
  end
end

-- A terminal record is kept for the retention window, then purged.
local function endRecord(holdsKey, gcKey, id, rec, status, now, retentionMs)
  rec.status = status
  rec.ended = now
  saveRecord(holdsKey, id, rec)
  addGarbage(gcKey, now + retentionMs, { id })
end
