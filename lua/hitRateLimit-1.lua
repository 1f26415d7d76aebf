#!lua flags=allow-oom
--[[
  hitRateLimit: counts one request in a fixed window and says whether it may pass.

  Allowed past maxmemory (allow-oom): its counters are tiny and expire within a
  window, and a confirm must not fail on them.

  KEYS[1] counter  string  the window's counter (its name carries the window start)
  ARGV[1] limit    requests allowed per window
  ARGV[2] windowMs

  Returns
    { 1, 0 }             allowed
    { 0, retryAfterMs }  refused: the window's count is past the limit
]]
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
if count <= tonumber(ARGV[1]) then
  return { 1, 0 }
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[2]) end
return { 0, ttl }
