#!lua flags=no-writes
--[[
  overduePayments: the holds of a partition whose payment deadline has passed
  (paying, and no confirm finished them). The recovery asks the payment
  provider what became of each charge, then commits or releases the hold.

  KEYS[1] paying  zset  hold id scored by its payment deadline
  KEYS[2] meta    hash  clock_offset_ms
  ARGV[1] countMax

  Returns the ids, oldest deadline first.
]]
--- @include "clock"
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowMs(KEYS[2]), 'LIMIT', 0, tonumber(ARGV[1]))
