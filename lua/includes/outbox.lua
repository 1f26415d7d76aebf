--- @include "record"
-- Outbox events: each entry of a partition's outbox stream has one field `e`,
-- a msgpack map, read by write-through. This file is their one writer (every
-- script that appends uses it); engine/redis/outbox-events.ts is their reader,
-- and both are checked against test/fixtures/outbox-events.json.
--
-- Every event has t (its type), v (the format version: 3; an event without v
-- is version 1, written before versions), q (version 3 on: the partition's
-- sequence number, from the meta hash's `seq`, one more per event: write-through
-- records the highest written in PostgreSQL, the fencing marker), at (ms, the
-- scripts' clock), and:
--   product  sku, name, price, limit, stock
--   stock    sku, delta, total
--   order    id, order, user, home, parts, lines, total, amount, payment
--   refund   id, user, amount, payment, reason
-- An order event's lines are { sku, qty, price_cents } arrays, one per line,
-- and its parts the cart's partitions as numbers (empty but on the home part
-- of a multi-partition cart). Version 1's were the hold record's own: lines a
-- flat list of sku, qty, price_cents, counted, and parts comma-separated text.
-- Version 2 is version 3 without q.
local EVENT_VERSION = 3

local function appendEvent(outboxKey, metaKey, event)
  event.v = EVENT_VERSION
  event.q = redis.call('HINCRBY', metaKey, 'seq', 1)
  redis.call('XADD', outboxKey, '*', 'e', cmsgpack.pack(event))
end

local function appendProduct(outboxKey, metaKey, sku, name, priceCents, limit, stock, now)
  appendEvent(outboxKey, metaKey, { t = 'product', sku = sku, name = name, price = priceCents, limit = limit, stock = stock,
    at = now })
end

local function appendStock(outboxKey, metaKey, sku, delta, total, now)
  appendEvent(outboxKey, metaKey, { t = 'stock', sku = sku, delta = delta, total = total, at = now })
end

-- The order (or, on a part of a multi-partition cart, its share of it) that a
-- confirmed hold record became.
local function appendOrder(outboxKey, metaKey, id, rec, amountCents, paymentRef, now)
  local lines, recLines = {}, rec.lines
  for i = 1, #recLines, LINE_STRIDE do
    lines[#lines + 1] = { recLines[i], recLines[i + 1], recLines[i + 2] }
  end
  appendEvent(outboxKey, metaKey, { t = 'order', id = id, order = rec.order, user = rec.user, home = rec.home,
    parts = recordParts(rec), lines = lines, total = totalCents(rec), amount = amountCents, payment = paymentRef,
    at = now })
end

local function appendRefund(outboxKey, metaKey, id, user, amountCents, reference, reason, now)
  appendEvent(outboxKey, metaKey, { t = 'refund', id = id, user = user, amount = amountCents, payment = reference,
    reason = reason, at = now })
end
