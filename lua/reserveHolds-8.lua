#!lua
--[[
  reserveHolds: reserves units for a batch of requests of one partition, in
  arrival order (group commit). Each request is all-or-nothing over its lines.
  First expires due holds of any sku (within ARGV[1] work units: a record read
  or a line moved each), so expired units come back even when no sweeper runs.
  Then, before refusing a request for lack of units or of per-user allowance,
  it expires the due holds of that very sku (within ARGV[2] work units per call
  in all): a request is never refused while due holds could satisfy it. When
  due holds remain past that bound it answers -6, and the caller sends the
  request again.

  Redis work is per batch, not per request: one HMGET for the ids, one for the
  SKUs, one HSET for every new record, two ZADDs for the due index, two
  HINCRBYs per SKU. Counts are tracked in Lua in between. Requests are read in
  place from ARGV and the reply is flat: both measured cheaper than tables per
  request.

  KEYS[1] skus      hash   <sku>:a|r|p|l ... (see createProduct)
  KEYS[2] holds     hash   <id> -> hold record (lua/includes/record.lua)
  KEYS[3] due       zset   sku -> earliest due deadline (lua/includes/expire.lua)
  KEYS[4] dueHolds  zset   '<sku>\31<deadline>\31<ids>' (lua/includes/expire.lua)
  KEYS[5] users     hash   <sku>:<user_id> -> units held or bought (limited SKUs only)
  KEYS[6] gc        zset   msgpack arrays of ids, scored by when they may be purged
  KEYS[7] meta      hash   clock_offset_ms; holds by state and expiries (lua/includes/counts.lua)
  KEYS[8] outbox    stream  (only its length is read: the write-through backlog)

  ARGV[1] reclaimWorkMax   ARGV[2] reclaimSkuWorkMax   ARGV[3] retentionMs
  ARGV[4] requestCount
  ARGV[5] outboxLengthMax: past it, nothing is reserved (back-pressure while
          PostgreSQL is away: paid orders must still fit)
  then per request (REQ_HEADER args, then 2 per line):
    id, user_id, ttlMs,
    flags  mode then keep: mode 'h' a hold | 'p' the home part of a multi-partition
           cart (pending) | 'c' another part of such a cart; keep '1' records a
           rejection under the id, so that a replay sees it again ('h1', 'c0', ...)
    parts  'p': the cart's partitions, comma separated; 'c': the home partition; else ''
    lineCount, then lineCount pairs of sku, qty (skus distinct within a request)

  Returns a flat array: for each request, the number of values that follow, then
    1, expiresAtMs, price_1, ..., price_n   held (pending for 'p')
    2, code, a, b     the id exists already (or came earlier in this batch): code 1
                      (a hold; a = expiresAtMs) or its recorded rejection, as below
    -1, sku, available       out of stock
    -2, sku, per_user_limit  the user's units of sku would pass the limit
    -3, sku, 0               no such product
    -5, backlog, 0           the outbox holds more than outboxLengthMax entries
    -30, reason, 0           the partition is fenced (lua/includes/fence.lua): nothing
                             reserved, for every request of the batch
    -6, sku, available       short now, but more due holds of sku remain than this
                             call may expire: send the request again (nothing recorded)
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "expire"
--- @include "counts"
--- @include "fence"
local k = { skus = KEYS[1], holds = KEYS[2], due = KEYS[3], dueHolds = KEYS[4], users = KEYS[5], gc = KEYS[6] }
local skusKey, holdsKey, usersKey, gcKey, metaKey, outboxKey = k.skus, k.holds, k.users, k.gc, KEYS[7], KEYS[8]
local reclaimWorkMax, reclaimBudget = tonumber(ARGV[1]), tonumber(ARGV[2])
local retentionMs, requestCount = tonumber(ARGV[3]), tonumber(ARGV[4])

-- Every request refused alike (code, a, 0).
local function refuseAll(code, a)
  local out = {}
  for r = 1, requestCount do
    out[#out + 1] = 3
    out[#out + 1] = code
    out[#out + 1] = a
    out[#out + 1] = 0
  end
  return out
end
local fence = fenceReason(KEYS[7])
if fence then return refuseAll(FENCED, fence) end
local backlog = redis.call('XLEN', outboxKey)
if backlog > tonumber(ARGV[5]) then return refuseAll(-5, backlog) end
local REQ_HEADER = 6
local now = nowMs(metaKey)
local nowText = num(now)
countHoldsIn(metaKey, 'reserve')

expireDue(k, now, reclaimWorkMax, retentionMs)

-- Where each request starts in ARGV; its id; the batch's distinct SKUs.
local starts, ids, skuList, skuSeen = {}, {}, {}, {}
local at = 6
for r = 1, requestCount do
  starts[r] = at
  ids[r] = ARGV[at]
  local lineCount = tonumber(ARGV[at + 5])
  for l = at + REQ_HEADER, at + REQ_HEADER + 2 * lineCount - 1, 2 do
    local sku = ARGV[l]
    if not skuSeen[sku] then
      skuSeen[sku] = true
      skuList[#skuList + 1] = sku
    end
  end
  at = at + REQ_HEADER + 2 * lineCount
end

-- Read phase: existing records and SKU state (in slices: unpack() is bounded
-- by Lua's C stack).
local existing = redis.call('HMGET', holdsKey, unpack(ids))
local stock = {}   -- sku -> { available, price text, limit, taken }
for first = 1, #skuList, 1000 do
  local fields = {}
  for i = first, math.min(first + 999, #skuList) do
    local sku = skuList[i]
    fields[#fields + 1] = sku .. ':a'
    fields[#fields + 1] = sku .. ':p'
    fields[#fields + 1] = sku .. ':l'
  end
  local v = redis.call('HMGET', skusKey, unpack(fields))
  for j = 1, #fields / 3 do
    if v[j * 3 - 2] then
      stock[skuList[first + j - 1]] = { tonumber(v[j * 3 - 2]), v[j * 3 - 1], tonumber(v[j * 3]), 0 }
    end
  end
end

local used = {}   -- '<sku>:<user>' -> { units, added }
local function userUnits(field)
  local u = used[field]
  if not u then
    u = { tonumber(redis.call('HGET', usersKey, field) or '0'), 0 }
    used[field] = u
  end
  return u
end

local out = {}
local function reply(...)
  local n = select('#', ...)
  out[#out + 1] = n
  for i = 1, n do out[#out + 1] = (select(i, ...)) end
end

-- Decide each request in order against the counts as this batch leaves them.
local firstOf = {}       -- id -> { code, a, b } of its first request in this batch
local newRecords = {}    -- HSET arguments
local dueGroups, dueGroupOf = {}, {}   -- { deadline, sku, ids } per (deadline, sku) of new holds
local tombstones = {}
local made = { held = 0, pending = 0 }   -- new holds counted (a cart's other parts are not)

-- Keeps this batch's counts in step when a hold expires in the middle of it.
local function returned(rec)
  local lines = rec.lines
  for i = 1, #lines, LINE_STRIDE do
    local st = stock[lines[i]]
    if st then st[1] = st[1] + lines[i + 1] end
    local u = lines[i + 3] == 1 and used[lines[i] .. ':' .. rec.user]
    if u then u[1] = u[1] - lines[i + 1] end
  end
end

local settled = {}   -- sku -> true once no due hold of it is left to expire in this call
-- Expires the due holds of sku within the call's budget; true when more remain.
local function reclaim(sku)
  if settled[sku] then return false end
  local earliest = redis.call('ZSCORE', k.due, sku)
  local more = earliest ~= false and tonumber(earliest) <= now
  while more and reclaimBudget > 0 do
    local _, used
    _, used, more = expireSku(k, sku, now, reclaimBudget, retentionMs, returned)
    reclaimBudget = reclaimBudget - used
  end
  if not more then settled[sku] = true end
  return more
end

local function short(st, sku, qty, user)
  if st[1] < qty then return -1, st[1] end
  if st[3] > 0 and userUnits(sku .. ':' .. user)[1] + qty > st[3] then return -2, st[3] end
  return nil
end

local function check(s, user, lineCount)
  for l = s + REQ_HEADER, s + REQ_HEADER + 2 * lineCount - 1, 2 do
    local sku, qty = ARGV[l], tonumber(ARGV[l + 1])
    local st = stock[sku]
    if not st then return -3, sku, 0 end
    local code, n = short(st, sku, qty, user)
    if code then
      local more = reclaim(sku)
      code, n = short(st, sku, qty, user)
      if code and more then return -6, sku, st[1] end
      if code then return code, sku, n end
    end
  end
  return nil
end

-- The request's lines as a record's (recordLine); priced and counted for a hold.
local function linesText(s, lineCount, held)
  local text = {}
  for l = s + REQ_HEADER, s + REQ_HEADER + 2 * lineCount - 1, 2 do
    local st = stock[ARGV[l]]
    text[#text + 1] = recordLine(ARGV[l], ARGV[l + 1], held and st[2] or '0', (held and st[3] > 0) and '1' or '0')
  end
  return table.concat(text)
end

local function reject(s, lineCount, code, a, b)
  local id, user, flags = ARGV[s], ARGV[s + 1], ARGV[s + 3]
  local outcome = { code, a, b }
  firstOf[id] = outcome
  if string.sub(flags, 2, 2) == '1' then
    newRecords[#newRecords + 1] = id
    newRecords[#newRecords + 1] = recordText('rejected', nowText, '0', '', '', nowText, '', outcome, ARGV[s + 5],
      linesText(s, lineCount, false), user)
    tombstones[#tombstones + 1] = id
  end
  reply(code, a, b)
end

local function hold(s, lineCount)
  local id, user, ttlMs, flags, parts = ARGV[s], ARGV[s + 1], tonumber(ARGV[s + 2]), ARGV[s + 3], ARGV[s + 4]
  local expiresAt = now + ttlMs
  local values = { 1, expiresAt }
  for l = s + REQ_HEADER, s + REQ_HEADER + 2 * lineCount - 1, 2 do
    local sku, qty = ARGV[l], tonumber(ARGV[l + 1])
    local st = stock[sku]
    st[1] = st[1] - qty
    st[4] = st[4] + qty
    if st[3] > 0 then
      local u = userUnits(sku .. ':' .. user)
      u[1] = u[1] + qty
      u[2] = u[2] + qty
    end
    values[#values + 1] = st[2]
  end
  local mode, status, home = string.sub(flags, 1, 1), 'held', ''
  if mode == 'p' then status = 'pending' elseif mode == 'c' then home = parts; parts = '' end
  if home == '' then made[status] = made[status] + 1 end
  newRecords[#newRecords + 1] = id
  newRecords[#newRecords + 1] = recordText(status, nowText, num(expiresAt), home, parts, '0', '', '', ARGV[s + 5],
    linesText(s, lineCount, true), user)
  for l = s + REQ_HEADER, s + REQ_HEADER + 2 * lineCount - 1, 2 do
    local groupKey = ARGV[l] .. SEP .. expiresAt
    local group = dueGroupOf[groupKey]
    if not group then
      group = { expiresAt, ARGV[l], {} }
      dueGroupOf[groupKey] = group
      dueGroups[#dueGroups + 1] = group
    end
    group[3][#group[3] + 1] = id
  end
  firstOf[id] = { 1, expiresAt }
  reply(unpack(values))
end

for r = 1, requestCount do
  local s = starts[r]
  local id, lineCount = ids[r], tonumber(ARGV[s + 5])
  local first = firstOf[id]
  if existing[r] then
    local rec = decodeRecord(existing[r])
    if rec.status == 'rejected' then
      local outcome = rec.note
      reply(2, outcome[1], outcome[2], outcome[3])
    else
      reply(2, 1, rec.expires, 0)
    end
  elseif first then
    reply(2, first[1], first[2], first[3] or 0)
  else
    local code, a, b = check(s, ARGV[s + 1], lineCount)
    if code == -6 then reply(code, a, b)
    elseif code then reject(s, lineCount, code, a, b)
    else hold(s, lineCount) end
  end
end

-- Write phase.
if #newRecords > 0 then
  redis.call('HSET', holdsKey, unpack(newRecords))
end
countNewHolds(now, made.held, made.pending)
for _, group in ipairs(dueGroups) do group[3] = table.concat(group[3], ',') end
addDue(k.due, k.dueHolds, dueGroups)
addGarbage(gcKey, now + retentionMs, tombstones)
for sku, st in pairs(stock) do
  if st[4] > 0 then
    redis.call('HINCRBY', skusKey, sku .. ':a', -st[4])
    redis.call('HINCRBY', skusKey, sku .. ':r', st[4])
  end
end
for field, u in pairs(used) do
  if u[2] > 0 then redis.call('HINCRBY', usersKey, field, u[2]) end
end
return out
