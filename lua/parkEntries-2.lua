#!lua flags=allow-oom
--[[
  parkEntries: moves an outbox entry that cannot be written to the partition's
  parked stream, in one step: the entry's fields, then `src` (its outbox stream
  id, which stays its event id in PostgreSQL) and `reason`. Write-through keeps
  draining the entries after it and retries the parked ones later. Running it
  again parks nothing more. Allowed past maxmemory (allow-oom): it moves an
  entry, and a partition must keep draining when memory is tight.

  KEYS[1] outbox  stream of msgpack events for write-through to PostgreSQL
  KEYS[2] parked  stream of parked entries, in the order they were parked
  ARGV[1] the entry's outbox stream id  ARGV[2] reason (text)

  Returns
    { 1, parkedId }  parked
    { 0 }            no such entry in the outbox (parked before, or written)
]]
local outboxKey, parkedKey = KEYS[1], KEYS[2]
local id, reason = ARGV[1], ARGV[2]

local found = redis.call('XRANGE', outboxKey, id, id)
if #found == 0 then return { 0 } end
local fields = found[1][2]
fields[#fields + 1] = 'src'
fields[#fields + 1] = id
fields[#fields + 1] = 'reason'
fields[#fields + 1] = reason
local parkedId = redis.call('XADD', parkedKey, '*', unpack(fields))
redis.call('XDEL', outboxKey, id)
return { 1, parkedId }
