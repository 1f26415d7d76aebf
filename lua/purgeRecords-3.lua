#!lua flags=allow-oom
--[[
  purgeRecords: deletes the records of up to ARGV[1] gc groups whose retention
  has run out: terminal hold records of a partition, or idempotency claims of a
  key shard.

  Allowed past maxmemory (allow-oom): it frees memory.

  KEYS[1] records  hash  (a partition's holds, or a shard's idempotency claims)
  KEYS[2] gc       zset  msgpack arrays of fields, scored by when they may be purged
  KEYS[3] meta     hash  clock_offset_ms

  ARGV[1] groupsMax

  Returns the number of records purged.
]]
--- @include "clock"
local recordsKey, gcKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local groups = redis.call('ZRANGEBYSCORE', gcKey, '-inf', nowMs(metaKey), 'LIMIT', 0, tonumber(ARGV[1]))
if #groups == 0 then return 0 end
local purged = 0
for _, group in ipairs(groups) do
  local fields = cmsgpack.unpack(group)
  for first = 1, #fields, 1000 do   -- unpack() is bounded by Lua's C stack
    purged = purged + redis.call('HDEL', recordsKey, unpack(fields, first, math.min(first + 999, #fields)))
  end
end
redis.call('ZREM', gcKey, unpack(groups))
return purged
