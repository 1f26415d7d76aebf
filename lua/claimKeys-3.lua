#!lua
--[[
  claimKeys: the first step of an idempotent request. Claims each idempotency
  key of a batch for a reservation id, or finds who claimed it before. A key
  names its shard (not the partition of the skus), so the same key with another
  body is caught wherever that body's skus live.

  KEYS[1] claims  hash  <scoped key> -> "<fingerprint> <reservation id>"
  KEYS[2] gc      zset  <scoped key> scored by the time the claim may be purged
  KEYS[3] meta    hash  clock_offset_ms

  ARGV[1] retentionMs  ARGV[2] count, then count triples: key, fingerprint, id

  Returns one array per key:
    {  1, id }  claimed now for the given id
    {  2, id }  claimed before by a request with the same fingerprint
    { -4 }      claimed before by a request with another body
]]
--- @include "clock"
local claimsKey, gcKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local retentionMs, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local purgeAt = nowMs(metaKey) + retentionMs
local results = {}
for i = 1, count do
  local at = 3 + (i - 1) * 3
  local key, fingerprint, id = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local claim = redis.call('HGET', claimsKey, key)
  if not claim then
    redis.call('HSET', claimsKey, key, fingerprint .. ' ' .. id)
    redis.call('ZADD', gcKey, purgeAt, key)
    results[i] = { 1, id }
  else
    local space = string.find(claim, ' ', 1, true)
    if string.sub(claim, 1, space - 1) == fingerprint then
      results[i] = { 2, string.sub(claim, space + 1) }
    else
      results[i] = { -4 }
    end
  end
end
return results
