-- The due index holds groups: each member is the comma-joined ids of the holds a
-- reserve call made with one deadline (its score). Entries are hints: a hold that
-- was paid for, released or expired since is skipped, so no step but this one
-- ever removes from the index.
-- Expires the holds of up to groupsMax due groups (now >= score). Only `held`
-- and `pending` holds expire here; a `paying` hold waits for its payment.
-- Returns the number of holds expired.
local function expireDue(skusKey, holdsKey, dueKey, usersKey, gcKey, now, groupsMax, retentionMs)
  if groupsMax <= 0 then return 0 end
  local groups = redis.call('ZRANGEBYSCORE', dueKey, '-inf', now, 'LIMIT', 0, groupsMax)
  local count = 0
  for _, group in ipairs(groups) do
    local expired = {}   -- one gc member per due group: at most batchSizeMax ids
    for id in string.gmatch(group, '[^,]+') do
      local rec = loadRecord(holdsKey, id)
      if rec and (rec.status == 'held' or rec.status == 'pending') and now >= rec.expires then
        expireHold(skusKey, holdsKey, usersKey, id, rec, now)
        expired[#expired + 1] = id
      end
    end
    addGarbage(gcKey, now + retentionMs, expired)
    count = count + #expired
  end
  if #groups > 0 then
    redis.call('ZREM', dueKey, unpack(groups))
  end
  return count
end
