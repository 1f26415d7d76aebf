--- @include "record"
-- Operation ids make admin steps safe to run twice (a client resend): the first
-- reply is kept under 'op:<id>' in the partition's records hash (purged with
-- the other records after retention) and answered again for a repeat.
local function repeatedOp(holdsKey, opId)
  if opId == '' then return nil end
  local stored = redis.call('HGET', holdsKey, 'op:' .. opId)
  if not stored then return nil end
  return cmsgpack.unpack(stored)
end

local function recordOp(holdsKey, gcKey, opId, reply, purgeAtMs)
  if opId == '' then return reply end
  redis.call('HSET', holdsKey, 'op:' .. opId, cmsgpack.pack(reply))
  addGarbage(gcKey, purgeAtMs, { 'op:' .. opId })
  return reply
end
