-- Hold records: one msgpack array per hold, a field of the partition's holds hash.
-- Indexes are mirrored in engine/records.ts; keep the two in step.
local R_STATUS, R_USER, R_CREATED, R_EXPIRES, R_TOTAL = 1, 2, 3, 4, 5
local R_HOME, R_PARTS, R_LINES, R_ENDED, R_NOTE, R_ORDER = 6, 7, 8, 9, 10, 11
-- R_LINES is flat: sku, qty, price_cents, counted (1 when the per-user counter holds it).
local LINE_STRIDE = 4

local function loadRecord(holdsKey, id)
  local raw = redis.call('HGET', holdsKey, id)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end

local function saveRecord(holdsKey, id, rec)
  redis.call('HSET', holdsKey, id, cmsgpack.pack(rec))
end

-- A terminal record is kept for the retention window, then purged.
local function endRecord(holdsKey, gcKey, id, rec, status, now, retentionMs)
  rec[R_STATUS] = status
  rec[R_ENDED] = now
  saveRecord(holdsKey, id, rec)
  redis.call('ZADD', gcKey, now + retentionMs, id)
end
