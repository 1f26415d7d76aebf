#!lua
--[[
  expireHolds: the sweeper's step. Expires the holds of up to ARGV[1] due
  groups of one partition (held or pending, now >= expires_at), returning their
  units to `available`.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] due  KEYS[4] users  KEYS[5] gc  KEYS[6] meta
  ARGV[1] groupsMax  ARGV[2] retentionMs

  Returns { expiredCount, stillDueGroups }
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "expire"
local skusKey, holdsKey, dueKey, usersKey, gcKey, metaKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local now = nowMs(metaKey)
local expired = expireDue(skusKey, holdsKey, dueKey, usersKey, gcKey, now,
  tonumber(ARGV[1]), tonumber(ARGV[2]))
return { expired, redis.call('ZCOUNT', dueKey, '-inf', now) }
