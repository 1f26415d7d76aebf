#!lua
--[[
  checkFence: compares a partition with PostgreSQL's marker for it (how far
  write-through got), at a process's start and after every reconnect, before
  the partition grants anything again (lua/includes/fence.lua). Atomic, so any
  number of processes may check at once.

    fenced already           stays fenced (only liftFence lifts it)
    init missing, PostgreSQL has nothing for the partition
                             a fresh partition: init set
    init missing, PostgreSQL has products but no marker, Redis has products
                             an install from before the marker: init set
    init missing otherwise   fenced 'empty' (FLUSHALL, a new or wiped Redis)
    seq < PostgreSQL's seq   fenced 'behind' (an older AOF, a lagging replica)
    this redis-server not checked since it started, and the caller compares
    the payment provider's recent captures with its holds (ARGV[4] names no
    run_id, or another one)
                             'restarted', with this run_id: the caller
                             compares, fences a partition that lost paid
                             orders (setFence), and checks again naming the
                             run_id it compared against
  On fencing, seq is raised to PostgreSQL's, so that what is appended from now
  on (refunds, repair) follows what PostgreSQL has. Unless fenced, `ck` is set
  to this redis-server's run_id: the partition is checked.

  KEYS[1] meta  hash (lua/includes/fence.lua)
  KEYS[2] skus  hash (only whether it exists is read)
  ARGV[1] PostgreSQL's seq for the partition (0: no marker)
  ARGV[2] '1' when PostgreSQL has products of the partition or a marker, else '0'
  ARGV[3] the time (ms) init records
  ARGV[4] '-' when the caller compares no captures; else the run_id it
          compared the captures against ('' before it has)

  Returns
    {   1, state, seq }   'ok' | 'initialised' | 'adopted' (an install from before the marker)
    {   1, 'restarted', seq, run_id }  captures to compare first (nothing set)
    { -30, reason, seq }  fenced (now or before)
]]
--- @include "fence"
local metaKey, skusKey = KEYS[1], KEYS[2]
local markSeq, recordHasData, nowText, compared = tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3], ARGV[4]

local v = redis.call('HMGET', metaKey, 'init', 'fenced', 'seq', 'ck')
local seq = tonumber(v[3] or '0')
local function fence(reason)
  redis.call('HSET', metaKey, 'fenced', reason)
  if seq < markSeq then
    seq = markSeq
    redis.call('HSET', metaKey, 'seq', seq)
  end
  return { FENCED, reason, seq }
end
local function checked(state)
  redis.call('HSET', metaKey, 'ck', serverRunId())
  return { 1, state, seq }
end

if v[2] then return { FENCED, v[2], seq } end
if not v[1] then
  local state
  if not recordHasData then state = 'initialised'
  elseif markSeq == 0 and redis.call('EXISTS', skusKey) == 1 then state = 'adopted'
  else return fence('empty') end
  redis.call('HSET', metaKey, 'init', nowText)
  return checked(state)
end
if seq < markSeq then return fence('behind') end
if compared ~= '-' and v[4] ~= serverRunId() and compared ~= serverRunId() then
  return { 1, 'restarted', seq, serverRunId() }
end
return checked('ok')
