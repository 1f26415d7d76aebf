/** Limits that are part of the HTTP contract (DESIGN.md §4), not settings (those are in settings/registry.ts). */
export const contractLimits = {
  bodyBytesMax: 16 * 1024,
  idempotencyKeyLengthMax: 255,
  tokenLengthMax: 255,
};
