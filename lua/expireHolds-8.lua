#!lua flags=allow-oom
--[[
  expireHolds: the sweeper's step. Expires due holds of one partition (held or
  pending, now >= expires_at), the skus with the oldest deadlines first,
  returning their units to `available`, within ARGV[1] work units (a record
  read or a line moved each). Allowed past maxmemory: it frees what holds took.

  Holds made before the due index was kept by SKU sit in the old index
  (KEYS[8]: comma-joined ids of one reserve call's holds, scored by their
  deadline): they are expired first, so an upgrade strands none. (Drop it once
  no release older than the SKU index runs.)

  KEYS[1] skus  KEYS[2] holds  KEYS[3] due  KEYS[4] dueHolds  KEYS[5] users
  KEYS[6] gc  KEYS[7] meta  KEYS[8] legacyDue
  ARGV[1] workMax  ARGV[2] retentionMs

  Returns { expiredCount, skus still due }
]]
--- @include "clock"
--- @include "record"
--- @include "units"
--- @include "expire"
--- @include "counts"
local k = { skus = KEYS[1], holds = KEYS[2], due = KEYS[3], dueHolds = KEYS[4], users = KEYS[5], gc = KEYS[6] }
local now = nowMs(KEYS[7])
countHoldsIn(KEYS[7], 'sweeper')
local workMax, retentionMs = tonumber(ARGV[1]), tonumber(ARGV[2])

-- The old index, group by group within the budget.
local legacyExpired, used = {}, 0
while used < workMax do
  local groups = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', now, 'LIMIT', 0, 1)
  if #groups == 0 then break end
  for id in string.gmatch(groups[1], '[^,]+') do
    local work, done = expireOne(k, id, now)
    used = used + work
    if done then legacyExpired[#legacyExpired + 1] = id end
  end
  redis.call('ZREM', KEYS[8], groups[1])
end
addGarbage(k.gc, now + retentionMs, legacyExpired)

local expired = expireDue(k, now, math.max(workMax - used, 0), retentionMs)
local stillDue = redis.call('ZCOUNT', k.due, '-inf', now) + redis.call('ZCOUNT', KEYS[8], '-inf', now)
return { #legacyExpired + expired, stillDue }
