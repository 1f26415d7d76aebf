import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type EngineSettings, priceCentsMax, productNameLengthMax, skuPattern, stockUnitsMax, userIdLengthMax } from '../engine/index.ts';
import { contractLimits } from './config.ts';
import { FieldError } from './problems.ts';
import { readinessReasons } from './readiness.ts';

/**
 * Request and response schemas. The same TypeBox schemas are compiled into the
 * hot-path validators and printed into /openapi.json; the reservation limits
 * (lines, qty, TTL bounds) come from the engine's settings.
 */
export const skuSchema = Type.String({ pattern: skuPattern.source, description: 'SKU, [A-Za-z0-9._-]{1,64}' });
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

/** A user id: the storefront's authenticated shopper (Stockade trusts it). */
export const userIdSchema = Type.String({ minLength: 1, maxLength: userIdLengthMax, pattern: noNul });
/** The optional ownership check of reads and actions on a reservation or order: another user's is not found (404). */
export const ownerSchema = Type.String({ minLength: 1, maxLength: userIdLengthMax, pattern: noNul,
  description: "the authenticated shopper's user id: when given, a reservation or order of another user answers 404, as an unknown id does" });

export function createReservationSchema(limits: EngineSettings) {
  return Type.Object({
    user_id: userIdSchema,
    items: Type.Array(Type.Object({
      sku: skuSchema,
      qty: Type.Integer({ minimum: 1, maximum: limits.qtyMax }),
    }, strict), { minItems: 1, maxItems: limits.cartLinesMax }),
    ttl_ms: Type.Optional(Type.Integer({ minimum: limits.holdTtlMsMin, maximum: limits.holdTtlMsMax })),
  }, strict);
}

export const Confirm = Type.Object({
  payment: Type.Object({ token: Type.String({ minLength: 1, maxLength: contractLimits.tokenLengthMax }) }, strict),
  user_id: Type.Optional(ownerSchema),
}, strict);

/** The optional body of a release (an empty body is none). */
export const Release = Type.Object({ user_id: Type.Optional(ownerSchema) }, strict);

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
/** The 202 of a confirm whose payment provider has not answered in time. */
export const PaymentPending = Type.Object({
  reservation_id: Type.String(), status: Type.Literal('paying'), detail: Type.String(),
});
export const Health = Type.Object({ status: Type.Literal('ok') });
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded'), Type.Literal('not_ready')]),
  reasons: Type.Optional(Type.Array(Type.Union(Object.keys(readinessReasons).map((r) => Type.Literal(r))),
    { description: 'why not ready or degraded (api/readiness.ts readinessReasons)' })),
  checks: Type.Optional(Type.Object({ redis: Type.Union([Type.Literal('ok'), Type.Literal('down')]),
    postgres: Type.Union([Type.Literal('ok'), Type.Literal('down')]), fenced: Type.Boolean() })),
  outbox_backlog: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  outbox_parked: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  memory: Type.Optional(Type.Union([Type.Object({ used_bytes: Type.Integer(), max_bytes: Type.Integer(), high_watermark_pct: Type.Integer(),
    overloaded: Type.Boolean() }), Type.Null()])),
}, { additionalProperties: false, description: 'status for anyone; the other members for the admin token only' });
/** RFC 9457: what every problem has (each type's own schema adds its members). */
export const Problem = Type.Object({
  type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(),
}, { additionalProperties: true });
export const ProblemTypeDoc = Type.Object({
  type: Type.String(), title: Type.String(), status: Type.Integer(), description: Type.String(),
  schema: Type.Object({}, { additionalProperties: true, description: 'the JSON Schema of its body' }),
  headers: Type.Array(Type.String(), { description: 'response headers it carries' }),
});
export const ProblemTypeList = Type.Object({ items: Type.Array(ProblemTypeDoc) });

/** The component name of each response schema in /openapi.json (request bodies are named by their validators). */
export const namedSchemas: Record<string, TSchema> = {
  Product, Stock, ProductPage, ReservationLine: Line, Reservation, Confirmation, PaymentPending, Order, OrderPage,
  Health, Readiness, Problem, FieldError, ProblemTypeDoc, ProblemTypeList,
};

/** At most this many field errors in one 422: a hostile body cannot make the answer large. */
export const fieldErrorsMax = 20;

/** A compiled validator: the value typed, or every field at fault (one per pointer, at most fieldErrorsMax) and a readable summary. */
export interface Validator<T extends TSchema> {
  /** The schema's component name in /openapi.json. */
  name: string;
  schema: T;
  check(value: unknown): { ok: true; value: Static<T> } | { ok: false; errors: FieldError[]; detail: string };
}

/** A check beyond what JSON Schema says (e.g. no SKU on two lines), run on a value the schema accepted. */
type ExtraCheck = (value: any) => FieldError[];

export function validator<T extends TSchema>(name: string, schema: T, extra: ExtraCheck = () => []): Validator<T> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    name,
    schema,
    check(value) {
      const errors: FieldError[] = [];
      if (compiled.Check(value)) {
        errors.push(...extra(value).slice(0, fieldErrorsMax));
        if (errors.length === 0) return { ok: true, value };
      } else {
        const seen = new Set<string>();
        for (const e of compiled.Errors(value)) {
          if (seen.has(e.path)) continue; // the first message per field is the telling one
          seen.add(e.path);
          errors.push({ pointer: e.path, message: e.message });
          if (errors.length === fieldErrorsMax) break;
        }
      }
      return { ok: false, errors, detail: summary(errors) };
    },
  };
}

function summary(errors: FieldError[]): string {
  const say = (e: FieldError) => `${e.pointer || '/'}: ${e.message}`;
  return errors.length === 1 ? say(errors[0]!) : `${errors.length} fields are invalid: ${errors.map(say).join('; ')}`;
}

/** A SKU on more than one line: each later line is at fault. */
function repeatedSkus(body: { items: { sku: string }[] }): FieldError[] {
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  body.items.forEach((line, i) => {
    if (seen.has(line.sku)) errors.push({ pointer: `/items/${i}/sku`, message: `sku ${line.sku} appears on more than one line` });
    seen.add(line.sku);
  });
  return errors;
}

export function createValidators(limits: EngineSettings) {
  return {
    createProduct: validator('CreateProduct', CreateProduct),
    adjustStock: validator('AdjustStock', AdjustStock),
    createReservation: validator('CreateReservation', createReservationSchema(limits), repeatedSkus),
    confirm: validator('Confirm', Confirm),
    release: validator('Release', Release),
  };
}

export type Validators = ReturnType<typeof createValidators>;

/** The query of a paged list: an opaque cursor (a next_cursor this API gave) and a page size. */
export function pageQuery(limitDefault: number, limitMax: number): Record<string, TSchema> {
  return {
    cursor: Type.String({ minLength: 1, description: 'the next_cursor of the page before (400 bad-request for any other)' }),
    limit: Type.Integer({ minimum: 1, maximum: limitMax, default: limitDefault }),
  };
}
