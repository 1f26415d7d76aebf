-- Fencing (DESIGN.md §3): a partition whose Redis may be behind PostgreSQL
-- grants nothing. Its meta hash keeps
--   init    set when the partition was initialised (a fresh install, or
--           `reconcile rebuild`); missing after FLUSHALL or on an empty Redis
--   fenced  why the partition is fenced (set by checkFence, setFence, or
--           write-through's backstop); cleared by liftFence
--   seq     the partition's outbox sequence (lua/includes/outbox.lua)
--   ck      the run_id of the redis-server that checkFence last compared with
--           PostgreSQL: a Redis that restarted (an older AOF, a promoted
--           replica) has another run_id, so nothing is granted until it is
--           checked again
-- The scripts that grant (reserveHolds, adjustStock, createProduct,
-- beginPayment, commitHold) refuse with FENCED and the reason:
--   'empty'      init is missing (FLUSHALL, a new Redis)
--   'unchecked'  this redis-server was not checked since it started
--   any other    the fence's own reason ('behind', 'rolled back', ...)
local FENCED = -30

-- This redis-server's run_id (changes at every start).
local function serverRunId()
  return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
end

-- Why the partition must not grant now, or nil when it may.
local function fenceReason(metaKey)
  local v = redis.call('HMGET', metaKey, 'init', 'fenced', 'ck')
  if v[2] then return v[2] end
  if not v[1] then return 'empty' end
  if v[3] ~= serverRunId() then return 'unchecked' end
  return nil
end
