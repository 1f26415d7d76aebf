--- @include "record"
--- @include "units"
-- The due index, two keys per partition, so that expiry can be targeted at the
-- SKUs a request asks for:
--   dueHolds  zset, every score 0, ordered by member:
--             '<sku>\31<deadline ms, 15 digits>\31<ids>', the comma-joined ids of
--             the holds that one reserve call made with that deadline and that
--             have a line of that sku
--   due       zset, sku -> the earliest deadline among its dueHolds entries
-- Entries are hints: a hold that was paid for, released or expired since is
-- skipped. Only expireSku removes entries (those it processed).
-- Only `held` and `pending` holds expire; a `paying` hold waits for its payment.
--
-- Work is bounded in units, not groups (a group may hold a thousand holds of a
-- hundred lines each): a unit per record read and per line moved. A group cut
-- short by the budget keeps its remaining ids in the index.
local DEADLINE_DIGITS = 15

local function deadlineText(ms)
  return string.format('%015d', ms)
end

-- ZADD in slices (unpack() is bounded by Lua's C stack); pairs is a flat
-- score, member, score, member, ... list.
local function zaddPairs(key, flag, pairs)
  for first = 1, #pairs, 1000 do
    local last = math.min(first + 999, #pairs)
    if flag then
      redis.call('ZADD', key, flag, unpack(pairs, first, last))
    else
      redis.call('ZADD', key, unpack(pairs, first, last))
    end
  end
end

-- Indexes a reserve call's new holds: groups is a list of { deadline, sku, idsText }.
local function addDue(dueKey, dueHoldsKey, groups)
  if #groups == 0 then return end
  local members, earliest = {}, {}
  for _, g in ipairs(groups) do
    members[#members + 1] = 0
    members[#members + 1] = g[2] .. SEP .. deadlineText(g[1]) .. SEP .. g[3]
    if not earliest[g[2]] or g[1] < earliest[g[2]] then earliest[g[2]] = g[1] end
  end
  local skus = {}
  for sku, deadline in pairs(earliest) do
    skus[#skus + 1] = deadline
    skus[#skus + 1] = sku
  end
  zaddPairs(dueHoldsKey, nil, members)
  zaddPairs(dueKey, 'LT', skus)
end

-- Expires one hold if it is due; returns the work it took and whether it expired.
local function expireOne(k, id, now, onExpire)
  local rec = loadRecord(k.holds, id)
  if not (rec and (rec.status == 'held' or rec.status == 'pending') and now >= rec.expires) then return 1, false end
  if onExpire then onExpire(rec) end
  expireHold(k.skus, k.holds, k.users, id, rec, now)
  return 1 + #rec.lines / LINE_STRIDE, true
end

-- Expires the holds of one dueHolds member within the budget; the ids left (when
-- the budget ran out) stay indexed under the same sku and deadline.
local function expireMember(k, member, skuLength, now, budget, expired, onExpire)
  local prefixLength = skuLength + DEADLINE_DIGITS + 2
  local ids = {}
  for id in string.gmatch(string.sub(member, prefixLength + 1), '[^,]+') do ids[#ids + 1] = id end
  local used, i = 0, 1
  while i <= #ids and used < budget do
    local work, done = expireOne(k, ids[i], now, onExpire)
    used = used + work
    if done then expired[#expired + 1] = ids[i] end
    i = i + 1
  end
  redis.call('ZREM', k.dueHolds, member)
  if i <= #ids then
    redis.call('ZADD', k.dueHolds, 0, string.sub(member, 1, prefixLength) .. table.concat(ids, ',', i))
  end
  return used
end

-- Expires the due holds of one sku, oldest first, within budget work units.
-- onExpire(rec), when given, sees each hold before its units move (a caller
-- keeping counts of its own in step). Returns the holds expired, the work
-- used, and whether due holds of the sku remain.
local function expireSku(k, sku, now, budget, retentionMs, onExpire)
  local lower, upper = '[' .. sku .. SEP, '(' .. sku .. SEP .. deadlineText(now + 1)
  local expired, used = {}, 0
  while used < budget do
    local members = redis.call('ZRANGEBYLEX', k.dueHolds, lower, upper, 'LIMIT', 0, 8)
    if #members == 0 then break end
    for _, member in ipairs(members) do
      used = used + expireMember(k, member, #sku, now, budget - used, expired, onExpire)
      if used >= budget then break end
    end
  end
  addGarbage(k.gc, now + retentionMs, expired)
  local nextOne = redis.call('ZRANGEBYLEX', k.dueHolds, lower, '(' .. sku .. ' ', 'LIMIT', 0, 1)[1]
  if not nextOne then
    redis.call('ZREM', k.due, sku)
    return #expired, used, false
  end
  local nextDeadline = tonumber(string.sub(nextOne, #sku + 2, #sku + 1 + DEADLINE_DIGITS))
  redis.call('ZADD', k.due, nextDeadline, sku)
  return #expired, used, nextDeadline <= now
end

-- Expires due holds of any sku within budget work units, the skus with the
-- oldest deadlines first. Returns the number of holds expired.
local function expireDue(k, now, budget, retentionMs)
  local count, used = 0, 0
  while used < budget do
    local skus = redis.call('ZRANGEBYSCORE', k.due, '-inf', now, 'LIMIT', 0, 8)
    if #skus == 0 then break end
    for _, sku in ipairs(skus) do
      local expired, work = expireSku(k, sku, now, budget - used, retentionMs)
      count = count + expired
      used = used + math.max(work, 1)
      if used >= budget then break end
    end
  end
  return count
end
