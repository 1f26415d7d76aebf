import type { Product, Reservation } from '../engine/index.ts';

/** The wire shapes of DESIGN.md §4: snake_case, cents, ISO 8601 UTC. */
export function productView(p: Product) {
  return {
    sku: p.sku,
    name: p.name,
    price_cents: p.priceCents,
    per_user_limit: p.perUserLimit > 0 ? p.perUserLimit : null,
    stock: { ...p.stock },
  };
}

export function reservationView(r: Reservation) {
  return {
    id: r.id,
    status: r.status,
    user_id: r.userId,
    items: r.items.map((l) => ({ sku: l.sku, qty: l.qty, price_cents: l.priceCents })),
    total_cents: r.totalCents,
    expires_at: new Date(r.expiresAtMs).toISOString(),
  };
}

const encodeCursor = (key: string) => Buffer.from(key, 'utf8').toString('base64url');

/** Opaque page cursors: base64url of the last key served. decode gives null for text that encode cannot have made. */
export const cursor = {
  encode: encodeCursor,
  decode: (text: string): string | null => {
    const key = Buffer.from(text, 'base64url').toString('utf8');
    return text !== '' && encodeCursor(key) === text ? key : null;
  },
};
