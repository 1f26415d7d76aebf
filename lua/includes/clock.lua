-- Time comes from Redis, never from API clocks. `clock_offset_ms` in the meta hash
-- is zero in production; tests move it forward to make holds fall due.
local function nowMs(metaKey)
  local t = redis.call('TIME')
  local offsetMs = tonumber(redis.call('HGET', metaKey, 'clock_offset_ms') or '0')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + offsetMs
end
