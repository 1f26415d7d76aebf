#!lua
--[[
  restoreOrder: recreates the order of a capture that Redis and PostgreSQL both
  lost (no hold record here, or one that ended without its payment: expired or
  released by its buyer, not by the saga; no order there; the reconciler's
  repair checks PostgreSQL before it calls this), from the payment provider's record: moves
  each line's units available -> sold, saves a confirmed hold record under the
  reservation id and appends the `order` event to the outbox, all in one step.
  A line whose units are no longer available refuses the whole order and
  changes nothing (never below zero, never sold twice): the caller refunds.
  A repeat finds the record it saved and returns the first outcome.

  KEYS[1] skus  KEYS[2] holds  KEYS[3] gc  KEYS[4] outbox  KEYS[5] meta
  ARGV[1] id  ARGV[2] orderId  ARGV[3] userId  ARGV[4] amountCents
  ARGV[5] paymentRef  ARGV[6] retentionMs  ARGV[7] line count
  ARGV[8..] per line: sku, qty, price_cents

  Returns
    {   1, orderId }  restored (now, or before: the order id it has)
    {  -3, sku }  a line's sku is not a product
    { -21, sku, available }  a line's units are no longer available
    or any other status code of includes/status.lua (statusReply): a record
    stands under this id in another state
]]
--- @include "clock"
--- @include "record"
--- @include "status"
--- @include "counts"
--- @include "outbox"
--- @include "restore"
local skusKey, holdsKey, gcKey, outboxKey, metaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, orderId, userId, amountCents, paymentRef = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local retentionMs, lineCount = tonumber(ARGV[6]), tonumber(ARGV[7])

-- A confirmed record is no live hold: counting on (every status change counts) moves no count here.
countHoldsIn(metaKey, 'access')
local rec = loadRecord(holdsKey, id)
if rec then
  if rec.status == 'confirmed' then return { 1, rec.order } end
  -- A single-partition hold that ended here without its payment (expired, or released by its buyer) while the
  -- provider has a capture for it: this Redis lost the payment's start with its data (an older AOF, a promoted
  -- replica). Its units went back to available: the order is recreated as a lost one is. A hold the saga released
  -- after voiding its charge (or refunded) stands: that capture came after the void, and is refunded.
  local single = rec.home == '' and rec.parts == ''
  if not (single and endedWithoutPayment(rec, { expired = true, released = true })) then return statusReply(rec) end
end

local lines, refused = availableLines(skusKey, 8, lineCount)
if not lines then return refused end
takeAvailable(skusKey, lines, 's')
local now = nowMs(metaKey)
rec = { status = 'confirmed', created = now, expires = now, home = '', parts = '', ended = now, order = orderId,
  note = '', lines = lines, user = userId }
endRecord(holdsKey, gcKey, id, rec, 'confirmed', now, retentionMs)
appendOrder(outboxKey, metaKey, id, rec, amountCents, paymentRef, now)
return { 1, orderId }
