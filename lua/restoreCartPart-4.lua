#!lua
--[[
  restoreCartPart: the first step of recreating the order of a multi-partition
  cart whose capture Redis and PostgreSQL both lost (restoreOrder does a
  single-partition one in one step; no script may span partitions). On one
  partition, from the payment provider's record: moves this part's units
  available -> reserved and saves a `paying` record of the cart's part (home and
  parts as a reserve writes them), as if the saga had begun its payment. The
  caller restores the other parts first and the home part last, then commits
  the cart as the saga does (home first): no order event is appended before
  every part holds its units. Every part enters its partition's paying index,
  due now, as beginPayment puts it there: a crash after the home part leaves
  the overdue recovery to commit the cart, and a part whose commit a fence
  refused is committed by the recovery once it is lifted (a crash before the
  home part leaves parts that the recovery cannot commit yet, and that the
  next repair finds restored).
  A part whose record still holds its units (held, pending) becomes paying as
  it stands. A line whose units are no longer available refuses the part and changes
  nothing (never below zero, never sold twice): the caller gives back the parts
  it restored ('compensate') and refunds. A repeat finds the record it saved.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] paying  KEYS[4] meta
  ARGV[1] id  ARGV[2] userId  ARGV[3] home ('' on the home part)
  ARGV[4] parts (on the home part: the cart's partitions, comma separated)
  ARGV[5] line count  ARGV[6..] per line: sku, qty, price_cents

  Returns
    {   1, status }  restored: 'paying' (now, or before), or 'confirmed' (committed since)
    {  -3, sku }  a line's sku is not a product
    { -21, sku, available }  a line's units are no longer available
    or any other status code of includes/status.lua (statusReply): a record
    stands under this id that is live, or that the saga ended
]]
--- @include "clock"
--- @include "record"
--- @include "status"
--- @include "counts"
--- @include "restore"
local skusKey, holdsKey, payingKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, userId, home, parts, lineCount = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])

countHoldsIn(metaKey, 'access')
local rec = loadRecord(holdsKey, id)
if rec then
  if rec.status == 'paying' or rec.status == 'confirmed' then return { 1, rec.status } end
  -- A part still holding its units (its home ended or lost, or its order's home part already written): the capture
  -- pays for them as they stand.
  if rec.status == 'held' or rec.status == 'pending' then
    rec.status = 'paying'
    saveRecord(holdsKey, id, rec)
    redis.call('ZADD', payingKey, nowMs(metaKey), id)
    return { 1, 'paying' }
  end
  -- As restoreOrder: only a part that ended here without its payment (expired, released or given back by its
  -- buyer or a compensation) is recreated; one the saga released after a void, a decline or a refund stands.
  if not endedWithoutPayment(rec, { expired = true, released = true, aborted = true }) then return statusReply(rec) end
end

local lines, refused = availableLines(skusKey, 6, lineCount)
if not lines then return refused end
takeAvailable(skusKey, lines, 'r')
local now = nowMs(metaKey)
local restored = { status = 'paying', was = rec and rec.status or nil, created = now, expires = now, home = home,
  parts = parts, ended = 0, order = '', note = '', lines = lines, user = userId }
saveRecord(holdsKey, id, restored)
redis.call('ZADD', payingKey, now, id)
return { 1, 'paying' }
