#!lua
--[[
  resetCounts: sets a SKU's counts, when its four counts are still the ones
  the caller read (the reconciler's repair of a counter that broke
  conservation, or of a fenced partition's counts that went back in time; it
  decides the new values from PostgreSQL and the live holds, this step only
  makes sure nothing moved meanwhile). Total and sold change only when given
  (repair gives them only for a fenced partition: nothing is granted there).

  KEYS[1] skus
  ARGV[1] sku  ARGV[2..5] total, available, reserved, sold as read
  ARGV[6] new available  ARGV[7] new reserved  ARGV[8] new total or ''  ARGV[9] new sold or ''

  Returns
    {   1 }  set
    {  -3 }  no such sku
    { -22 }  the counts changed since they were read: nothing set
]]
--- @include "freed"
local skusKey, sku = KEYS[1], ARGV[1]
local now = redis.call('HMGET', skusKey, sku .. ':t', sku .. ':a', sku .. ':r', sku .. ':s')
if not now[1] then return { -3 } end
for i = 1, 4 do
  if tonumber(now[i]) ~= tonumber(ARGV[i + 1]) then return { -22 } end
end
redis.call('HSET', skusKey, sku .. ':a', ARGV[6], sku .. ':r', ARGV[7])
unitsFreed(skusKey, sku, tonumber(ARGV[6]), tonumber(ARGV[6]) - tonumber(now[2]))
if ARGV[8] ~= '' then redis.call('HSET', skusKey, sku .. ':t', ARGV[8]) end
if ARGV[9] ~= '' then redis.call('HSET', skusKey, sku .. ':s', ARGV[9]) end
return { 1 }
