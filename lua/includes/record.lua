-- Hold records: one string per hold, a field of the partition's holds hash.
-- Fields are joined by \31 (unit separator, never in a sku, id or number):
--   status, created_ms, expires_ms, home, parts, ended_ms, order_id, note,
--   line_count, then per line: sku, qty, price_cents, counted, and last the
--   user_id (which may hold any character, so it takes the rest).
-- `home`: the home partition, on another part of a multi-partition cart.
-- `parts`: every partition of such a cart, on its home part. `note`: the
-- recorded rejection "code,sku,n" of a rejected or aborted request. `counted`
-- is 1 when the per-user counter holds the line's units.
-- Built by concatenation: measured ~8x cheaper than cmsgpack.pack here, and
-- the reserve path builds one per hold. engine/records.ts decodes the same.
local SEP = '\31'
local LINE_STRIDE = 4

local function num(n)
  if type(n) == 'number' then return string.format('%d', n) end
  return n
end

local function decodeRecord(raw)
  local f, pos = {}, 1
  for i = 1, 9 do
    local e = string.find(raw, SEP, pos, true)
    f[i] = string.sub(raw, pos, e - 1)
    pos = e + 1
  end
  local lines = {}
  for i = 1, tonumber(f[9]) * LINE_STRIDE do
    local e = string.find(raw, SEP, pos, true)
    local v = string.sub(raw, pos, e - 1)
    if i % LINE_STRIDE ~= 1 then v = tonumber(v) end
    lines[i] = v
    pos = e + 1
  end
  return { status = f[1], created = tonumber(f[2]), expires = tonumber(f[3]), home = f[4], parts = f[5],
    ended = tonumber(f[6]), order = f[7], note = f[8], lines = lines, user = string.sub(raw, pos) }
end

local function encodeRecord(r)
  local out = { r.status, num(r.created), num(r.expires), r.home, r.parts, num(r.ended), r.order, r.note,
    num(#r.lines / LINE_STRIDE) }
  for i = 1, #r.lines do out[#out + 1] = num(r.lines[i]) end
  out[#out + 1] = r.user
  return table.concat(out, SEP)
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
