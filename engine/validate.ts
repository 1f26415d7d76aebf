import type { EngineSettings } from '../settings/views.ts';
import type { ProductInput, ReserveRequest } from './types.ts';

export const skuPattern = /^[A-Za-z0-9._-]{1,64}$/;
export const userIdLengthMax = 128;
export const productNameLengthMax = 200;
export const priceCentsMax = 100_000_000_00;
export const stockUnitsMax = 1_000_000_000;

const isCount = (n: unknown, min: number, max: number): n is number =>
  typeof n === 'number' && Number.isSafeInteger(n) && n >= min && n <= max;

/** What is wrong with a reservation request, or null. The engine re-checks what the API validated. */
export function reserveProblem(req: ReserveRequest, s: EngineSettings): string | null {
  if (typeof req.userId !== 'string' || req.userId.length === 0 || req.userId.length > userIdLengthMax || req.userId.includes('\0')) {
    return `user_id must be 1..${userIdLengthMax} characters, none of them NUL`;
  }
  if (!Array.isArray(req.items) || req.items.length === 0 || req.items.length > s.cartLinesMax) {
    return `items must hold 1..${s.cartLinesMax} lines`;
  }
  const seen = new Set<string>();
  for (const item of req.items) {
    if (typeof item?.sku !== 'string' || !skuPattern.test(item.sku)) return 'every sku must match [A-Za-z0-9._-]{1,64}';
    if (!isCount(item.qty, 1, s.qtyMax)) return `qty must be an integer in 1..${s.qtyMax}`;
    if (seen.has(item.sku)) return `sku ${item.sku} appears on more than one line`;
    seen.add(item.sku);
  }
  if (req.ttlMs !== undefined && !isCount(req.ttlMs, s.holdTtlMsMin, s.holdTtlMsMax)) {
    return `ttl_ms must be an integer in ${s.holdTtlMsMin}..${s.holdTtlMsMax}`;
  }
  return null;
}

export function productProblem(p: ProductInput): string | null {
  if (typeof p.sku !== 'string' || !skuPattern.test(p.sku)) return 'sku must match [A-Za-z0-9._-]{1,64}';
  if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > productNameLengthMax || p.name.includes('\0')) {
    return `name must be 1..${productNameLengthMax} characters, none of them NUL`;
  }
  if (!isCount(p.priceCents, 0, priceCentsMax)) return `price_cents must be an integer in 0..${priceCentsMax}`;
  if (!isCount(p.stock, 0, stockUnitsMax)) return `stock must be an integer in 0..${stockUnitsMax}`;
  if (p.perUserLimit !== undefined && !isCount(p.perUserLimit, 0, stockUnitsMax)) {
    return `per_user_limit must be an integer in 0..${stockUnitsMax}`;
  }
  return null;
}

export function deltaProblem(delta: unknown): string | null {
  if (!isCount(delta, -stockUnitsMax, stockUnitsMax) || delta === 0) {
    return `delta must be a non-zero integer in -${stockUnitsMax}..${stockUnitsMax}`;
  }
  return null;
}
