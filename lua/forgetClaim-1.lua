#!lua flags=allow-oom
--[[
  forgetClaim: frees an Idempotency-Key whose request was given back before it
  was answered, only if the claim still names that request's id: a claim made
  since (the key's retry) is never deleted. Allowed past maxmemory: it frees.

  KEYS[1] claims  hash  <scoped key> -> "<fingerprint> <reservation id>"
  ARGV[1] key  ARGV[2] id

  Returns
    1  forgotten
    0  the claim names another request (or none)
]]
local claim = redis.call('HGET', KEYS[1], ARGV[1])
if not claim then return 0 end
local space = string.find(claim, ' ', 1, true)
if not space or string.sub(claim, space + 1) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
