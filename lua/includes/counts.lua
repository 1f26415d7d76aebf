-- Holds by state and expiries, counted in the partition's meta hash as the
-- scripts move holds (GET /metrics reads them; README "Key layout"):
--   holds:held, holds:pending, holds:paying   live holds made since holds_since
--   holds_since      the scripts' time of the first hold counted: holds made
--                    before it are never counted, in or out, so holds made
--                    before counting began (an upgrade) never drive a count
--                    below zero
--   expired:reserve, expired:sweeper, expired:access   holds expired (ever), by
--                    who: a reserve call's reclaim, the sweeper, or a step on a
--                    hold past its deadline (confirm, release, a cart's activation)
-- A hold counts once: its record on its home partition (a cart's other parts,
-- whose records name their home, are not counted).
-- A script turns counting on with countHoldsIn(metaKey, by); then saveRecord
-- (record.lua) counts each record whose status it changes, and a reserve call
-- counts the holds it makes with countNewHolds. A script that never calls
-- countHoldsIn counts nothing (it must not change a hold's status).
local holdCounts = { key = false, since = false, by = '' }
local LIVE_STATES = { held = true, pending = true, paying = true }

local function countHoldsIn(metaKey, by)
  holdCounts.key = metaKey
  holdCounts.by = by
  holdCounts.since = tonumber(redis.call('HGET', metaKey, 'holds_since') or '') or false
end

-- Counts a record's move from status `from` to rec.status (nothing when they agree).
local function countMove(rec, from)
  local key = holdCounts.key
  if not key or from == rec.status or rec.home ~= '' then return end
  if rec.status == 'expired' then redis.call('HINCRBY', key, 'expired:' .. holdCounts.by, 1) end
  local since = holdCounts.since
  if not since or rec.created < since then return end
  if LIVE_STATES[from] then redis.call('HINCRBY', key, 'holds:' .. from, -1) end
  if LIVE_STATES[rec.status] then redis.call('HINCRBY', key, 'holds:' .. rec.status, 1) end
end

-- Counts the holds a reserve call made at `now` (held, and pending cart homes);
-- the first ever starts the count.
local function countNewHolds(now, held, pending)
  local key = holdCounts.key
  if not key or held + pending == 0 then return end
  if not holdCounts.since then
    redis.call('HSET', key, 'holds_since', now)
    holdCounts.since = now
  end
  if now < holdCounts.since then return end
  if held > 0 then redis.call('HINCRBY', key, 'holds:held', held) end
  if pending > 0 then redis.call('HINCRBY', key, 'holds:pending', pending) end
end
