#!lua
--[[
  reserveHolds: reserves units for a batch of requests of one partition, in
  arrival order (group commit). Each request is all-or-nothing over its lines.
  First reclaims up to ARGV[1] holds that are already due, so expired units come
  back even when no sweeper runs.

  KEYS[1] skus   hash   <sku>:a|r|p|l ... (see createProduct)
  KEYS[2] holds  hash   <id> -> msgpack hold record (lua/includes/record.lua)
  KEYS[3] due    zset   <id> scored by expires_at ms (held and pending holds)
  KEYS[4] users  hash   <sku>:<user_id> -> units held or bought (limited SKUs only)
  KEYS[5] gc     zset   <id> scored by the time its record may be purged
  KEYS[6] meta   hash   clock_offset_ms

  ARGV[1] reclaimMax   ARGV[2] retentionMs   ARGV[3] requestCount
  then per request:
    id, user_id, ttlMs,
    mode  'h' a hold | 'p' the home part of a multi-partition cart (pending) |
          'c' another part of such a cart,
    parts 'p': the cart's partitions, comma separated; 'c': the home partition; else ''
    keep  '1': record a rejection under the id, so that a replay sees it again
    lineCount, then lineCount pairs of sku, qty (skus distinct within a request)

  Returns one array per request:
    {  1, expiresAtMs, totalCents, price_1, ..., price_n }  held (pending for 'p')
    {  2, code, a, b }  the id exists already: code 1 (a hold; a = expiresAtMs)
                        or the rejection recorded for it (code, a, b as below)
    { -1, sku, available }       out of stock
    { -2, sku, per_user_limit }  the user's units of sku would pass the limit
    { -3, sku }                  no such product
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "expire"
local skusKey, holdsKey, dueKey, usersKey, gcKey, metaKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local reclaimMax, retentionMs = tonumber(ARGV[1]), tonumber(ARGV[2])
local requestCount = tonumber(ARGV[3])
local now = nowMs(metaKey)

expireDue(skusKey, holdsKey, dueKey, usersKey, gcKey, now, reclaimMax, retentionMs)

local function reject(id, user, keep, lines, code, a, b)
  if keep == '1' then
    local rec = { 'rejected', user, now, 0, 0, '', '', lines, now, { code, a, b }, '' }
    saveRecord(holdsKey, id, rec)
    redis.call('ZADD', gcKey, now + retentionMs, id)
  end
  return { code, a, b }
end

local function replay(rec)
  if rec[R_STATUS] == 'rejected' then
    local note = rec[R_NOTE]
    return { 2, note[1], note[2], note[3] }
  end
  return { 2, 1, rec[R_EXPIRES] }
end

-- Checks every line before touching any count; returns a rejection or the
-- per-line (price, limit) pairs.
local function check(user, lines)
  local looked = {}
  for i = 1, #lines, LINE_STRIDE do
    local sku, qty = lines[i], lines[i + 1]
    local v = redis.call('HMGET', skusKey, sku .. ':a', sku .. ':p', sku .. ':l')
    if not v[1] then
      return nil, { -3, sku, 0 }
    end
    local available, limit = tonumber(v[1]), tonumber(v[3])
    if available < qty then
      return nil, { -1, sku, available }
    end
    if limit > 0 then
      local used = tonumber(redis.call('HGET', usersKey, sku .. ':' .. user) or '0')
      if used + qty > limit then
        return nil, { -2, sku, limit }
      end
    end
    looked[#looked + 1] = { tonumber(v[2]), limit }
  end
  return looked, nil
end

local function reserveOne(id, user, ttlMs, mode, parts, keep, lines)
  local existing = loadRecord(holdsKey, id)
  if existing then
    return replay(existing)
  end
  local looked, rejection = check(user, lines)
  if rejection then
    return reject(id, user, keep, lines, rejection[1], rejection[2], rejection[3])
  end
  local result, totalCents = { 1, now + ttlMs, 0 }, 0
  for i = 1, #lines, LINE_STRIDE do
    local sku, qty = lines[i], lines[i + 1]
    local price, limit = looked[(i + 3) / 4][1], looked[(i + 3) / 4][2]
    redis.call('HINCRBY', skusKey, sku .. ':a', -qty)
    redis.call('HINCRBY', skusKey, sku .. ':r', qty)
    if limit > 0 then
      redis.call('HINCRBY', usersKey, sku .. ':' .. user, qty)
      lines[i + 3] = 1
    end
    lines[i + 2] = price
    totalCents = totalCents + price * qty
    result[#result + 1] = price
  end
  result[3] = totalCents
  local status, home = 'held', ''
  if mode == 'p' then status = 'pending' elseif mode == 'c' then home = parts; parts = '' end
  saveRecord(holdsKey, id, { status, user, now, now + ttlMs, totalCents, home, parts, lines, 0, '', '' })
  redis.call('ZADD', dueKey, now + ttlMs, id)
  return result
end

local results, at = {}, 4
for r = 1, requestCount do
  local id, user, ttlMs, mode, parts, keep = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]),
    ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]
  local lineCount = tonumber(ARGV[at + 6])
  at = at + 7
  local lines = {}
  for l = 1, lineCount do
    lines[#lines + 1] = ARGV[at]
    lines[#lines + 1] = tonumber(ARGV[at + 1])
    lines[#lines + 1] = 0
    lines[#lines + 1] = 0
    at = at + 2
  end
  results[r] = reserveOne(id, user, ttlMs, mode, parts, keep, lines)
end
return results
