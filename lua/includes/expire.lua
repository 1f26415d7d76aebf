-- Expires up to countMax holds whose deadline has passed (now >= expires_at).
-- Only `held` and `pending` holds live in the due index; `paying` holds are
-- in the paying index and are never expired here (the payment may have run).
local function expireDue(skusKey, holdsKey, dueKey, usersKey, gcKey, now, countMax, retentionMs)
  local ids = redis.call('ZRANGEBYSCORE', dueKey, '-inf', now, 'LIMIT', 0, countMax)
  for _, id in ipairs(ids) do
    local rec = loadRecord(holdsKey, id)
    if rec and (rec[R_STATUS] == 'held' or rec[R_STATUS] == 'pending') then
      moveReserved(skusKey, usersKey, rec, 'a')
      endRecord(holdsKey, gcKey, id, rec, 'expired', now, retentionMs)
    end
  end
  if #ids > 0 then
    redis.call('ZREM', dueKey, unpack(ids))
  end
  return #ids
end
