#!lua
--[[
  activateCart: pending -> held, once every other partition of a multi-partition
  cart holds its lines. Until then replays of the request wait, and expiry (the
  pending hold is in the due index) returns the units if the caller vanishes.

  KEYS[1] holds  KEYS[2] meta
  ARGV[1] id

  Returns
    {   1, expiresAtMs }  held (now or before)
    { -10 }  no such hold or aborted   { -11 }  expired   other status codes as
    in includes/status.lua
]]
--- @include "record"
--- @include "status"
local holdsKey = KEYS[1]
local id = ARGV[1]

local rec = loadRecord(holdsKey, id)
if not rec then return { NOT_FOUND } end
if rec.status == 'pending' then
  rec.status = 'held'
  saveRecord(holdsKey, id, rec)
end
if rec.status == 'held' then return { 1, rec.expires } end
return statusReply(rec)
