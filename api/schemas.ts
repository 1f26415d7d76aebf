import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { EngineSettings } from '../settings/views.ts';
import { priceCentsMax, productNameLengthMax, skuPattern, stockUnitsMax, userIdLengthMax } from '../engine/validate.ts';
import { contractLimits } from './config.ts';

/**
 * Request and response schemas. The same TypeBox schemas are compiled into the
 * hot-path validators and printed into /openapi.json; the reservation limits
 * (lines, qty, TTL bounds) come from the engine's settings.
 */
const skuSchema = Type.String({ pattern: skuPattern.source, description: 'SKU, [A-Za-z0-9._-]{1,64}' });
const strict = { additionalProperties: false };
/** PostgreSQL text cannot hold NUL: refuse it at the door, not in a worker. */
const noNul = '^[^\\u0000]*$';

export const CreateProduct = Type.Object({
  sku: skuSchema,
  name: Type.String({ minLength: 1, maxLength: productNameLengthMax, pattern: noNul }),
  price_cents: Type.Integer({ minimum: 0, maximum: priceCentsMax }),
  stock: Type.Integer({ minimum: 0, maximum: stockUnitsMax }),
  per_user_limit: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: stockUnitsMax }), Type.Null()])),
}, strict);

export const AdjustStock = Type.Object({
  delta: Type.Integer({ minimum: -stockUnitsMax, maximum: stockUnitsMax, not: { const: 0 }, description: 'restock > 0, shrink < 0' }),
}, strict);

export function createReservationSchema(limits: EngineSettings) {
  return Type.Object({
    user_id: Type.String({ minLength: 1, maxLength: userIdLengthMax, pattern: noNul }),
    items: Type.Array(Type.Object({
      sku: skuSchema,
      qty: Type.Integer({ minimum: 1, maximum: limits.qtyMax }),
    }, strict), { minItems: 1, maxItems: limits.cartLinesMax }),
    ttl_ms: Type.Optional(Type.Integer({ minimum: limits.holdTtlMsMin, maximum: limits.holdTtlMsMax })),
  }, strict);
}

export const Confirm = Type.Object({
  payment: Type.Object({ token: Type.String({ minLength: 1, maxLength: contractLimits.tokenLengthMax }) }, strict),
}, strict);

export const Stock = Type.Object({ total: Type.Integer(), available: Type.Integer(), reserved: Type.Integer(), sold: Type.Integer() });
export const Product = Type.Object({
  sku: Type.String(), name: Type.String(), price_cents: Type.Integer(),
  per_user_limit: Type.Union([Type.Integer(), Type.Null()]), stock: Stock,
});
export const Line = Type.Object({ sku: Type.String(), qty: Type.Integer(), price_cents: Type.Integer() });
export const Reservation = Type.Object({
  id: Type.String(),
  status: Type.Union(['held', 'paying', 'confirmed', 'released', 'expired'].map((s) => Type.Literal(s))),
  user_id: Type.String(), items: Type.Array(Line), total_cents: Type.Integer(),
  expires_at: Type.String({ format: 'date-time' }),
});
export const Confirmation = Type.Object({
  reservation: Reservation, order_id: Type.String(),
  payment: Type.Object({ status: Type.Literal('captured'), amount_cents: Type.Integer() }),
});
export const Order = Type.Object({
  id: Type.String(), reservation_id: Type.String(), user_id: Type.String(), total_cents: Type.Integer(),
  created_at: Type.String({ format: 'date-time' }), items: Type.Array(Line),
  payment: Type.Union([Type.Object({ status: Type.String(), amount_cents: Type.Integer(), captured_at: Type.String({ format: 'date-time' }) }), Type.Null()]),
});
export const ProductPage = Type.Object({ items: Type.Array(Product), next_cursor: Type.Union([Type.String(), Type.Null()]) });
export const OrderPage = Type.Object({ items: Type.Array(Order), next_cursor: Type.Union([Type.String(), Type.Null()]) });
export const Problem = Type.Object({
  type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(),
}, { additionalProperties: true });

/** A compiled validator: the value typed, or the first problem as "path: message". */
export interface Validator<T extends TSchema> {
  schema: T;
  check(value: unknown): { ok: true; value: Static<T> } | { ok: false; detail: string };
}

export function validator<T extends TSchema>(schema: T): Validator<T> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    schema,
    check(value) {
      if (compiled.Check(value)) return { ok: true, value };
      const first = compiled.Errors(value).First();
      const path = first?.path || '/';
      return { ok: false, detail: first ? `${path}: ${first.message}` : 'invalid body' };
    },
  };
}

export function createValidators(limits: EngineSettings) {
  return {
    createProduct: validator(CreateProduct),
    adjustStock: validator(AdjustStock),
    createReservation: validator(createReservationSchema(limits)),
    confirm: validator(Confirm),
  };
}

export type Validators = ReturnType<typeof createValidators>;
