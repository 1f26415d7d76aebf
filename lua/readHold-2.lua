#!lua flags=no-writes
--[[
  readHold: a hold record with the scripts' clock, so that a reader can tell a
  hold past its deadline (expired, even before any sweep ran) from a live one.

  KEYS[1] holds  KEYS[2] meta
  ARGV[1] id

  Returns { nowMs, record or false }
]]
--- @include "clock"
return { nowMs(KEYS[2]), redis.call('HGET', KEYS[1], ARGV[1]) }
