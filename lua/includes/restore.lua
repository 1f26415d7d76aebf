--- @include "record"
-- Restoring what Redis lost (restoreOrder, restoreCartPart): the lines a
-- payment provider's record names, taken from `available` only when every
-- line's units are there, and whether a record that stands may be replaced.

-- Whether a hold ended here without its payment (expired, released or given back
-- by its buyer or a compensation): this Redis lost the payment's start with its
-- data. One the saga released after a void, a decline or a refund stands.
local function endedWithoutPayment(rec, statuses)
  local sagaReleased = rec.note == 'voided' or rec.note == 'refunded' or rec.note == 'declined'
  return statuses[rec.status] == true and not sagaReleased
end

-- The lines from ARGV[first..] (lineCount triples sku, qty, price_cents) as
-- record lines, when each line's units are available; else nil and the reply
-- that refuses it ({ -3, sku } no product, { -21, sku, available } too few).
local function availableLines(skusKey, first, lineCount)
  local lines = {}
  for i = 0, lineCount - 1 do
    local sku, qty, price = ARGV[first + i * 3], tonumber(ARGV[first + 1 + i * 3]), tonumber(ARGV[first + 2 + i * 3])
    local available = redis.call('HGET', skusKey, sku .. ':a')
    if not available then return nil, { -3, sku } end
    if tonumber(available) < qty then return nil, { -21, sku, tonumber(available) } end
    lines[#lines + 1] = sku
    lines[#lines + 1] = qty
    lines[#lines + 1] = price
    lines[#lines + 1] = 0
  end
  return lines
end

-- Moves the lines' units from available to `to` ('s' sold, 'r' reserved).
local function takeAvailable(skusKey, lines, to)
  for i = 1, #lines, LINE_STRIDE do
    redis.call('HINCRBY', skusKey, lines[i] .. ':a', -lines[i + 1])
    redis.call('HINCRBY', skusKey, lines[i] .. ':' .. to, lines[i + 1])
  end
end
