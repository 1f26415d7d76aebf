-- Tells the API processes that a SKU has units again after it had none: each
-- answers "sold out" from a local flag for at most STOCKADE_SOLD_OUT_CACHE_MS
-- (engine/catalog/sold-out.ts), and this message clears the flag at once.
-- Only on the step from none to some: a sweep expiring many holds of a SKU
-- publishes once, not once per hold. The channel is the partition's skus key
-- plus ':freed' (no key of its own: PUBLISH reaches every node of a Cluster).
local function unitsFreed(skusKey, sku, availableNow, added)
  if added > 0 and availableNow > 0 and availableNow - added <= 0 then
    redis.call('PUBLISH', skusKey .. ':freed', sku)
  end
end
