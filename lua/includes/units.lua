--- @include "record"
--- @include "freed"
-- Moves a hold's units out of `reserved`: to `available` (release, expiry) or to
-- `sold` (commit). Releasing also gives back the user's per-user allowance.
local function moveReserved(skusKey, usersKey, rec, to)
  local lines = rec.lines
  for i = 1, #lines, LINE_STRIDE do
    local sku, qty = lines[i], lines[i + 1]
    redis.call('HINCRBY', skusKey, sku .. ':r', -qty)
    local now = redis.call('HINCRBY', skusKey, sku .. ':' .. to, qty)
    if to == 'a' then unitsFreed(skusKey, sku, now, qty) end
    if to == 'a' and lines[i + 3] == 1 then
      local field = sku .. ':' .. rec.user
      if redis.call('HINCRBY', usersKey, field, -qty) <= 0 then
        redis.call('HDEL', usersKey, field)
      end
    end
  end
end

-- Expires a hold: its units back to `available`, its record marked expired.
-- A cart home still pending was never a reservation (no client was told of
-- it): its note says 'unfinished', so a replay of its request starts afresh.
-- (Callers add it to the gc index: one group per due group, or one id.)
local function expireHold(skusKey, holdsKey, usersKey, id, rec, now)
  moveReserved(skusKey, usersKey, rec, 'a')
  if rec.status == 'pending' then rec.note = 'unfinished' end
  rec.status = 'expired'
  rec.ended = now
  saveRecord(holdsKey, id, rec)
end
