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

-- Expires the due holds of one sku, up to groupsMax groups, oldest first.
-- onExpire(rec), when given, sees each hold before its units move (a caller
-- keeping counts of its own in step). Returns the holds expired, the groups
-- used, and whether due groups of the sku remain.
local function expireSku(k, sku, now, groupsMax, retentionMs, onExpire)
  local members = redis.call('ZRANGEBYLEX', k.dueHolds, '[' .. sku .. SEP,
    '(' .. sku .. SEP .. deadlineText(now + 1), 'LIMIT', 0, groupsMax)
  local expired = {}   -- one gc group: at most groupsMax reserve calls' ids
  for _, member in ipairs(members) do
    for id in string.gmatch(string.sub(member, #sku + DEADLINE_DIGITS + 3), '[^,]+') do
      local rec = loadRecord(k.holds, id)
      if rec and (rec.status == 'held' or rec.status == 'pending') and now >= rec.expires then
        if onExpire then onExpire(rec) end
        expireHold(k.skus, k.holds, k.users, id, rec, now)
        expired[#expired + 1] = id
      end
    end
  end
  addGarbage(k.gc, now + retentionMs, expired)
  if #members > 0 then redis.call('ZREM', k.dueHolds, unpack(members)) end
  local nextOne = redis.call('ZRANGEBYLEX', k.dueHolds, '[' .. sku .. SEP, '(' .. sku .. ' ', 'LIMIT', 0, 1)[1]
  if not nextOne then
    redis.call('ZREM', k.due, sku)
    return #expired, #members, false
  end
  local nextDeadline = tonumber(string.sub(nextOne, #sku + 2, #sku + 1 + DEADLINE_DIGITS))
  redis.call('ZADD', k.due, nextDeadline, sku)
  return #expired, #members, nextDeadline <= now
end

-- Expires due holds of any sku, up to groupsMax groups in all, the skus with
-- the oldest deadlines first. Returns the number of holds expired.
local function expireDue(k, now, groupsMax, retentionMs)
  if groupsMax <= 0 then return 0 end
  local skus = redis.call('ZRANGEBYSCORE', k.due, '-inf', now, 'LIMIT', 0, groupsMax)
  local count, budget = 0, groupsMax
  for _, sku in ipairs(skus) do
    if budget <= 0 then break end
    local expired, used = expireSku(k, sku, now, budget, retentionMs)
    count = count + expired
    budget = budget - used
  end
  return count
end
