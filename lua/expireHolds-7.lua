#!lua flags=allow-oom
--[[
  expireHolds: the sweeper's step. Expires the holds of up to ARGV[1] due
  groups of one partition (held or pending, now >= expires_at), the skus with
  the oldest deadlines first, returning their units to `available`. Allowed
  past maxmemory: it frees what holds took.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] due  KEYS[4] dueHolds  KEYS[5] users
  KEYS[6] gc  KEYS[7] meta
  ARGV[1] groupsMax  ARGV[2] retentionMs

  Returns { expiredCount, skus still due }
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "expire"
local k = { skus = KEYS[1], holds = KEYS[2], due = KEYS[3], dueHolds = KEYS[4], users = KEYS[5], gc = KEYS[6] }
local now = nowMs(KEYS[7])
local expired = expireDue(k, now, tonumber(ARGV[1]), tonumber(ARGV[2]))
return { expired, redis.call('ZCOUNT', k.due, '-inf', now) }
