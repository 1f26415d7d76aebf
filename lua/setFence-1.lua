#!lua
--[[
  setFence: fences a partition (lua/includes/fence.lua) with a reason, e.g.
  write-through's backstop when an event's sequence number shows that Redis
  went back in time. Keeps the first reason of a fence already set.

  KEYS[1] meta  hash (lua/includes/fence.lua)
  ARGV[1] reason (not 'empty' or 'unchecked')

  Returns
    { -30, reason }  fenced (the reason it has: its first)
]]
--- @include "fence"
local metaKey, reason = KEYS[1], ARGV[1]
redis.call('HSETNX', metaKey, 'fenced', reason)
return { FENCED, redis.call('HGET', metaKey, 'fenced') }
