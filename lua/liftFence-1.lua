#!lua
--[[
  liftFence: the partition may grant again (lua/includes/fence.lua): its fence
  cleared, seq raised to at least PostgreSQL's, and checked against this
  redis-server. Its caller has made sure that the stores agree (engine
  liftFence, `reconcile repair`), or has just rebuilt the partition from
  PostgreSQL (`reconcile rebuild`, which passes initialise: then init is set
  here, the last write of a rebuild, so that an interrupted rebuild leaves the
  partition uninitialised and is done again).

  KEYS[1] meta  hash (lua/includes/fence.lua)
  ARGV[1] PostgreSQL's seq for the partition (0: no marker)
  ARGV[2] '1': initialise (set init); '0': only a partition initialised already
  ARGV[3] the time (ms) init records

  Returns
    {   1, seq }      lifted (or was not fenced)
    { -30, 'empty' }  not initialised, and ARGV[2] is '0': nothing changed
]]
--- @include "fence"
local metaKey, markSeq, initialise, nowText = KEYS[1], tonumber(ARGV[1]), ARGV[2] == '1', ARGV[3]

if initialise then
  redis.call('HSET', metaKey, 'init', nowText)
elseif redis.call('HEXISTS', metaKey, 'init') == 0 then
  return { FENCED, 'empty' }
end
local seq = tonumber(redis.call('HGET', metaKey, 'seq') or '0')
if seq < markSeq then
  seq = markSeq
  redis.call('HSET', metaKey, 'seq', seq)
end
redis.call('HDEL', metaKey, 'fenced')
redis.call('HSET', metaKey, 'ck', serverRunId())
return { 1, seq }
