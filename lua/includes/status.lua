--- @include "record"
--- @include "units"
-- The code a script returns when a hold is not in a state the step accepts.
local NOT_FOUND, EXPIRED, RELEASED, CONFIRMED, PENDING, PAYING, HELD, OVERDUE = -10, -11, -12, -13, -14, -15, -16, -17
local STATUS_CODES = { expired = EXPIRED, released = RELEASED, confirmed = CONFIRMED,
  pending = PENDING, paying = PAYING, held = HELD, rejected = NOT_FOUND, aborted = NOT_FOUND }

local function statusReply(rec)
  if not rec then return { NOT_FOUND } end
  local code = STATUS_CODES[rec.status] or NOT_FOUND
  if code == CONFIRMED then return { code, rec.order } end
  return { code }
end

-- A held (or pending) hold whose deadline has passed is expired on the spot,
-- so that no step acts on it after its time. (Its due-index entry is left to
-- the sweeper, which skips holds that are no longer held.)
local function expireIfDue(skusKey, holdsKey, usersKey, gcKey, id, rec, now, retentionMs)
  local s = rec.status
  if (s == 'held' or s == 'pending') and now >= rec.expires then
    expireHold(skusKey, holdsKey, usersKey, id, rec, now)
    addGarbage(gcKey, now + retentionMs, { id })
    return true
  end
  return false
end
