#!lua flags=no-writes
--[[
  dueIds: the members of a zset of ids whose score (a time) has passed by the
  scripts' clock, oldest first: the holds of a partition still paying past
  their payment deadline (the `paying` index: the recovery settles them), or
  the voided holds due for a look at the provider again (the `voided` index).

  KEYS[1] index  zset  hold id scored by a time (ms)
  KEYS[2] meta   hash  clock_offset_ms
  ARGV[1] countMax

  Returns the ids, oldest first.
]]
--- @include "clock"
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs(KEYS[2]), 'LIMIT', 0, tonumber(ARGV[1]))
