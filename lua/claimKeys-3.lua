#!lua flags=allow-oom
--[[
  claimKeys: the first step of an idempotent request. Claims each idempotency
  key of a batch for a reservation id, or finds who claimed it before. A key
  names its shard (not the partition of the skus), so the same key with another
  body is caught wherever that body's skus live.

  Allowed past maxmemory (allow-oom), so that a replay still gets its answer:
  the engine makes no new reserve claim past its memory watermark (below
  maxmemory), nor a confirm one.

  KEYS[1] claims  hash  <scoped key> -> "<fingerprint> <reservation id>"
  KEYS[2] gc      zset  msgpack arrays of keys, scored by when they may be purged
  KEYS[3] meta    hash  clock_offset_ms

  ARGV[1] retentionMs  ARGV[2] count, then count triples: key, fingerprint, id

  Returns a flat array, two values per key:
     1, id   claimed now for the given id (or by this same call run before: the
             ids are unique per request, so a stored claim naming this id is ours)
     2, id   claimed before (or earlier in this batch) with the same fingerprint
    -4, ''   claimed before by a request with another body
]]
--- @include "clock"
--- @include "record"
local claimsKey, gcKey, metaKey = KEYS[1], KEYS[2], KEYS[3]
local retentionMs, count = tonumber(ARGV[1]), tonumber(ARGV[2])

local keys = {}
for i = 1, count do keys[i] = ARGV[3 + (i - 1) * 3] end
local claims = redis.call('HMGET', claimsKey, unpack(keys))

local results, newClaims, claimed = {}, {}, {}
for i = 1, count do
  local at = 3 + (i - 1) * 3
  local key, fingerprint, id = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local claim = claims[i] or claimed[key]
  if not claim then
    claim = fingerprint .. ' ' .. id
    claimed[key] = claim
    newClaims[#newClaims + 1] = key
    newClaims[#newClaims + 1] = claim
    results[2 * i - 1], results[2 * i] = 1, id
  else
    local space = string.find(claim, ' ', 1, true)
    local claimedId = string.sub(claim, space + 1)
    if string.sub(claim, 1, space - 1) ~= fingerprint then
      results[2 * i - 1], results[2 * i] = -4, ''
    elseif claimedId == id and not claimed[key] then
      -- This very call, run again (a client resend): answer as the first run did.
      results[2 * i - 1], results[2 * i] = 1, id
    else
      results[2 * i - 1], results[2 * i] = 2, claimedId
    end
  end
end
if #newClaims > 0 then
  redis.call('HSET', claimsKey, unpack(newClaims))
  local fresh = {}
  for j = 1, #newClaims, 2 do fresh[#fresh + 1] = newClaims[j] end
  addGarbage(gcKey, nowMs(metaKey) + retentionMs, fresh)
end
return results
