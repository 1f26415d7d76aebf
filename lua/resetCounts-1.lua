#!lua
--[[
  resetCounts: sets a SKU's available and reserved counts, when its four counts
  are still the ones the caller read (the reconciler's repair of a counter
  that broke conservation; it decides the new values, this step only makes
  sure nothing moved meanwhile). Total and sold are never changed here.

  KEYS[1] skus
  ARGV[1] sku  ARGV[2..5] total, available, reserved, sold as read
  ARGV[6] new available  ARGV[7] new reserved

  Returns
    {   1 }  set
    {  -3 }  no such sku
    { -22 }  the counts changed since they were read: nothing set
]]
local skusKey, sku = KEYS[1], ARGV[1]
local now = redis.call('HMGET', skusKey, sku .. ':t', sku .. ':a', sku .. ':r', sku .. ':s')
if not now[1] then return { -3 } end
for i = 1, 4 do
  if tonumber(now[i]) ~= tonumber(ARGV[i + 1]) then return { -22 } end
end
redis.call('HSET', skusKey, sku .. ':a', ARGV[6], sku .. ':r', ARGV[7])
return { 1 }
