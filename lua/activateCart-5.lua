#!lua flags=allow-oom
--[[
  activateCart: pending -> held, once every other partition of a multi-partition
  cart holds its lines. Until then replays of the request wait, and expiry (the
  pending hold is in the due index) returns the units if the caller vanishes.

  A pending part past its deadline is expired instead (units back at once).

  Allowed past maxmemory (allow-oom): it finishes a cart whose units are held.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] users  KEYS[4] gc  KEYS[5] meta
  ARGV[1] id  ARGV[2] retentionMs

  Returns
    {   1, expiresAtMs }  held (now or before)
    { -10 }  no such hold or aborted   { -11 }  expired
    or any other status code of includes/status.lua (statusReply)
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "status"
--- @include "counts"
local skusKey, holdsKey, usersKey, gcKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, retentionMs = ARGV[1], tonumber(ARGV[2])
countHoldsIn(metaKey, 'access')

local rec = loadRecord(holdsKey, id)
if not rec then return { NOT_FOUND } end
if expireIfDue(skusKey, holdsKey, usersKey, gcKey, id, rec, nowMs(metaKey), retentionMs) then
  return { EXPIRED }
end
if rec.status == 'pending' then
  rec.status = 'held'
  saveRecord(holdsKey, id, rec)
end
if rec.status == 'held' then return { 1, rec.expires } end
return statusReply(rec)
