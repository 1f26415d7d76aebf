#!lua
--[[
  purgeRecords: deletes up to ARGV[1] records whose retention has run out:
  terminal hold records of a partition, or idempotency claims of a key shard.

  KEYS[1] records  hash  (a partition's holds, or a shard's idempotency claims)
  KEYS[2] gc       zset  field -> time it may be purged
  KEYS[3] meta     hash  clock_offset_ms

  ARGV[1] countMax

  Returns the number of records purged.
]]
--- @include "clock"
local recordsKey, gcKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local fields = redis.call('ZRANGEBYSCORE', gcKey, '-inf', nowMs(metaKey), 'LIMIT', 0, tonumber(ARGV[1]))
if #fields == 0 then return 0 end
redis.call('HDEL', recordsKey, unpack(fields))
redis.call('ZREM', gcKey, unpack(fields))
return #fields
