import type { TSchema } from '@sinclair/typebox';
import { problemTypes, type ProblemSlug } from './problems.ts';
import type { EngineSettings } from '../settings/views.ts';
import * as S from './schemas.ts';

type Op = {
  summary: string;
  auth: 'public' | 'token' | 'admin';
  body?: string;
  ok: [number, string | null];
  /** Also answers 202 Accepted. */
  accepted?: boolean;
  problems?: ProblemSlug[];
  idempotencyKey?: 'required' | 'optional';
  params?: string[];
  query?: string[];
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Every route, in the order of DESIGN.md §4, with the problems it may answer. */
const operations: Record<string, Record<string, Op>> = {
  '/v1/products': {
    post: { summary: 'Create a product', auth: 'admin', body: 'CreateProduct', ok: [201, 'Product'], problems: ['product-exists', 'invalid-request'] },
    get: { summary: 'List products in SKU order', auth: 'token', ok: [200, 'ProductPage'], query: ['cursor', 'limit'], problems: ['bad-request'] },
  },
  '/v1/products/{sku}': {
    get: { summary: 'A product with its stock', auth: 'token', ok: [200, 'Product'], params: ['sku'], problems: ['not-found'] },
  },
  '/v1/products/{sku}/stock': {
    post: { summary: 'Restock (delta > 0) or shrink (delta < 0)', auth: 'admin', body: 'AdjustStock', ok: [200, 'Product'], params: ['sku'],
      idempotencyKey: 'optional', problems: ['not-found', 'stock-would-go-negative', 'invalid-request', 'idempotency-key-reused'] },
  },
  '/v1/reservations': {
    post: { summary: 'Reserve (hold) units', auth: 'token', body: 'CreateReservation', ok: [201, 'Reservation'], idempotencyKey: 'required',
      problems: ['idempotency-key-required', 'bad-request', 'out-of-stock', 'per-user-limit', 'unknown-sku', 'invalid-request', 'idempotency-key-reused', 'request-in-progress', 'rate-limited'] },
  },
  '/v1/reservations/{id}': {
    get: { summary: 'A reservation', auth: 'token', ok: [200, 'Reservation'], params: ['id'], problems: ['not-found'] },
  },
  '/v1/reservations/{id}/confirm': {
    post: { summary: 'Pay and confirm (the checkout saga); 202 {reservation_id, status: "paying"} when the provider has not answered in time',
      auth: 'token', body: 'Confirm', ok: [200, 'Confirmation'], accepted: true, params: ['id'], idempotencyKey: 'optional',
      problems: ['payment-declined', 'payment-voided', 'payment-refunded', 'reservation-expired', 'reservation-released', 'not-found', 'invalid-request', 'idempotency-key-reused', 'request-in-progress', 'bad-request'] },
  },
  '/v1/reservations/{id}/release': {
    post: { summary: 'Release a hold: its units return at once', auth: 'token', ok: [200, 'Reservation'], params: ['id'],
      problems: ['reservation-confirmed', 'payment-in-progress', 'reservation-expired', 'not-found'] },
  },
  '/v1/orders/{id}': {
    get: { summary: 'An order with items and payment, from PostgreSQL', auth: 'token', ok: [200, 'Order'], params: ['id'], problems: ['not-found'] },
  },
  '/v1/users/{user_id}/orders': {
    get: { summary: "A user's orders, newest first", auth: 'token', ok: [200, 'OrderPage'], params: ['user_id'], query: ['cursor', 'limit'], problems: ['bad-request'] },
  },
  '/healthz': { get: { summary: 'The process is up', auth: 'public', ok: [200, null] } },
  '/readyz': { get: { summary: 'Redis and PostgreSQL are reachable (503 otherwise)', auth: 'public', ok: [200, null], problems: [] } },
  '/metrics': { get: { summary: 'Prometheus metrics', auth: 'admin', ok: [200, null] } },
  '/openapi.json': { get: { summary: 'This document', auth: 'public', ok: [200, null] } },
};

const commonProblems: ProblemSlug[] = ['unauthorized', 'forbidden', 'malformed-json', 'body-too-large', 'unsupported-media-type', 'rate-limited', 'overloaded', 'unavailable', 'internal'];

export function openApiDocument(limits: EngineSettings) {
  const schemas: Record<string, TSchema> = {
    CreateProduct: S.CreateProduct, AdjustStock: S.AdjustStock, CreateReservation: S.createReservationSchema(limits), Confirm: S.Confirm,
    Product: S.Product, ProductPage: S.ProductPage, Reservation: S.Reservation, Confirmation: S.Confirmation,
    Order: S.Order, OrderPage: S.OrderPage, Problem: S.Problem,
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(operations)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) paths[path]![method] = operation(op);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Stockade', version: '1', description: 'A reservation engine for flash sales. Errors are RFC 9457 problem+json; `type` is /problems/<slug>.' },
    paths,
    components: {
      schemas: JSON.parse(JSON.stringify(schemas)),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin token (catalog, stock, ops) or client token (reservations, orders)' } },
    },
  };
}

function operation(op: Op) {
  const responses: Record<string, unknown> = {
    [op.ok[0]]: { description: 'success', ...(op.ok[1] ? { content: { 'application/json': { schema: ref(op.ok[1]) } } } : {}) },
    ...(op.accepted ? { 202: { description: 'the payment provider has not answered yet; the outcome follows', content: { 'application/json': { schema: { type: 'object' } } } } } : {}),
  };
  const slugs = [...(op.problems ?? []), ...(op.auth === 'public' ? [] : commonProblems)];
  for (const slug of slugs) {
    const status = String(problemTypes[slug][0]);
    const entry = (responses[status] ??= { description: '', content: { 'application/problem+json': { schema: ref('Problem') } } }) as { description: string };
    entry.description = [entry.description, `/problems/${slug}`].filter(Boolean).join(', ');
  }
  const parameters = [
    ...(op.params ?? []).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
    ...(op.query ?? []).map((name) => ({ name, in: 'query', required: false, schema: { type: name === 'limit' ? 'integer' : 'string' } })),
    ...(op.idempotencyKey ? [{ name: 'Idempotency-Key', in: 'header', required: op.idempotencyKey === 'required', schema: { type: 'string', maxLength: 255 } }] : []),
  ];
  return {
    summary: op.summary,
    ...(op.auth === 'public' ? {} : { security: [{ bearer: [] }] }),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } } : {}),
    responses,
  };
}
