-- Tells the API processes that a SKU has units again after it had none: each
-- answers "sold out" from a local flag for at most STOCKADE_SOLD_OUT_CACHE_MS
-- (engine/catalog/sold-out.ts), and this message clears the flag at once.
-- Only on the step from none to some: a sweep expiring many holds of a SKU
-- publishes once, not once per hold. The channel is the partition's skus key
-- plus ':freed', a shard channel (SPUBLISH): it hashes to the partition's slot,
-- so on a Redis Cluster the message stays on the shard that owns the partition
-- (a PUBLISH is copied to every node). A hint, so pcall: an SPUBLISH refused (an ACL user without channel rights,
-- Redis 7's default for a new user) must not fail the script after it moved
-- units (a release half done and retried gives them twice); flags then end
-- by their TTL.
local function unitsFreed(skusKey, sku, availableNow, added)
  if added > 0 and availableNow > 0 and availableNow - added <= 0 then
    redis.pcall('SPUBLISH', skusKey .. ':freed', sku)
  end
end
