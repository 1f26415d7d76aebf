import type { TSchema } from '@sinclair/typebox';
import { contractLimits } from './config.ts';
import { problemSchema, problemTypes, problemUri, type ProblemHeader, type ProblemSlug, type ProblemType } from './problems.ts';
import { problemsOf, type Route, type RouteResponse } from './router.ts';
import { namedSchemas } from './schemas.ts';

/**
 * /openapi.json, printed from the route table (api/router.ts Route: path,
 * access, body validator, Idempotency-Key, responses, problems) and the TypeBox
 * schemas the routes validate with: what is served and what is documented come
 * from the same values, so they cannot drift. test/api-openapi.test.ts checks
 * every real response against it.
 */
export function openApiDocument(routes: Route[]) {
  const components = new Components();
  for (const [name, schema] of Object.entries(namedSchemas)) components.name(name, schema);
  for (const route of routes) if (route.body) components.name(route.body.name, route.body.schema);
  for (const slug of Object.keys(problemTypes) as ProblemSlug[]) components.name(problemSchemaName(slug), problemSchema(slug));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[openApiPath(route.pattern)] ??= {})[route.method] = operation(route, components);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Stockade', version: '1',
      description: 'A reservation engine for flash sales. Errors are RFC 9457 application/problem+json; each `type` (/problems/<slug>) resolves '
        + 'to its documentation (GET /problems/<slug>) and has a schema here (components.schemas.<Name>Problem). Bearer tokens: the admin '
        + 'token for catalog, stock and /metrics (and everything else); the client token for reservations and orders.',
    },
    servers: [{ url: '/', description: 'the server that served this document' }],
    security: tokenSecurity,
    tags: [
      { name: 'products', description: 'the catalog and its stock' },
      { name: 'reservations', description: 'holds, and the checkout that confirms or releases them' },
      { name: 'orders', description: 'orders as written through to PostgreSQL' },
      { name: 'operations', description: 'probes, metrics and this document' },
      { name: 'problems', description: 'what each problem type means' },
    ],
    paths,
    components: {
      schemas: components.schemas(),
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'STOCKADE_ADMIN_TOKEN: every route' },
        clientToken: { type: 'http', scheme: 'bearer', description: 'STOCKADE_CLIENT_TOKEN: reservations, orders, reading products' },
      },
      headers: {
        'X-Request-Id': { description: 'this request, as the logs name it', required: true, schema: { type: 'string' } },
      },
    },
  };
}

const tokenSecurity = [{ clientToken: [] }, { adminToken: [] }];
const securityOf = { public: [], token: tokenSecurity, admin: [{ adminToken: [] }] } as const;

/** /v1/products/:sku → /v1/products/{sku} */
const openApiPath = (pattern: string) => pattern.replace(/:(\w+)/g, '{$1}');
const paramNames = (pattern: string) => [...pattern.matchAll(/:(\w+)/g)].map((m) => m[1]!);
const problemSchemaName = (slug: ProblemSlug) => `${slug.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}Problem`;

const headerDocs: Record<ProblemHeader | 'Location' | 'Idempotent-Replayed', { description: string; schema: object }> = {
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } },
  'WWW-Authenticate': { description: 'RFC 6750: `Bearer` (no token), `Bearer error="invalid_token"`, `Bearer error="insufficient_scope"`', schema: { type: 'string' } },
  Allow: { description: 'the methods the path takes', schema: { type: 'string' } },
  Location: { description: 'the URI of what was created', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: 'the stored answer of an earlier request with the same Idempotency-Key', schema: { type: 'string', const: 'true' } },
};

function operation(route: Route, components: Components) {
  const parameters = [
    ...paramNames(route.pattern).map((name) => ({ name, in: 'path', required: true, schema: components.use(route.params?.[name] ?? { type: 'string' }) })),
    ...Object.entries(route.query ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema: components.use(schema) })),
    ...(route.idempotencyKey ? [{ name: 'Idempotency-Key', in: 'header', required: route.idempotencyKey === 'required',
      description: 'the same key with the same body answers the stored response (Idempotent-Replayed: true); with another body, 422',
      schema: { type: 'string', minLength: 1, maxLength: contractLimits.idempotencyKeyLengthMax } }] : []),
  ];
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    security: securityOf[route.access],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: { required: !route.bodyOptional, content: { 'application/json': { schema: components.use(route.body.schema) } } } } : {}),
    responses: responses(route, components),
  };
}

interface ResponseDoc {
  description: string;
  headers: Record<string, unknown>;
  content: Record<string, { schema: unknown }>;
}

/** The handler's responses, then every problem the route may answer, grouped by status (a oneOf on `type` where several share one). */
function responses(route: Route, components: Components): Record<string, ResponseDoc> {
  const docs: Record<string, ResponseDoc> = {};
  const replays = route.idempotencyKey !== undefined;
  const header = (name: keyof typeof headerDocs, required: boolean) => ({ [name]: { ...headerDocs[name], required } });
  const base = () => ({ 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' }, ...(replays ? header('Idempotent-Replayed', false) : {}) });
  for (const [status, r] of Object.entries(route.responses) as [string, RouteResponse][]) {
    const content = r.schema ? { 'application/json': { schema: components.use(r.schema) } } : { [r.contentType!]: { schema: { type: 'string' } } };
    const headers = Object.assign(base(), ...(r.headers ?? []).map((h) => header(h, true)));
    docs[status] = { description: r.description, headers, content };
  }
  const byStatus = new Map<number, ProblemSlug[]>();
  for (const slug of problemsOf(route)) byStatus.set(problemTypes[slug].status, [...(byStatus.get(problemTypes[slug].status) ?? []), slug]);
  for (const [status, slugs] of [...byStatus].sort(([a], [b]) => a - b)) {
    const refs = slugs.map((slug) => ({ $ref: `#/components/schemas/${problemSchemaName(slug)}` }));
    const schema = refs.length === 1 ? refs[0] : {
      oneOf: refs, discriminator: { propertyName: 'type', mapping: Object.fromEntries(slugs.map((slug, i) => [problemUri(slug), refs[i]!.$ref])) },
    };
    const doc = (docs[status] ??= { description: '', headers: base(), content: {} });
    doc.description = [doc.description, ...slugs.map((slug) => `${problemTypes[slug].title} (${problemUri(slug)})`)].filter(Boolean).join('; ');
    doc.content['application/problem+json'] = { schema };
    const carried = slugs.map((slug) => (problemTypes[slug] as ProblemType).headers ?? []);
    for (const name of new Set(carried.flat())) {
      // Required when every answer with this status carries it.
      const always = carried.every((hs) => hs.includes(name)) && (!route.responses[status] || name in doc.headers);
      Object.assign(doc.headers, header(name, always));
    }
  }
  return docs;
}

/**
 * The named schemas of components.schemas; anywhere else a schema equal to a
 * named one is printed as a $ref to it (TypeBox composes by value, so a
 * Reservation inside a Confirmation is found by its JSON).
 */
class Components {
  private readonly named = new Map<string, { name: string; json: string }>();
  private readonly byJson = new Map<string, string>();

  name(name: string, schema: TSchema): void {
    const json = JSON.stringify(schema);
    this.named.set(name, { name, json });
    this.byJson.set(json, name);
  }

  /** A schema as printed in the document: a $ref when it is named, else with its named parts as $refs. */
  use(schema: TSchema | object): unknown {
    return this.refs(JSON.parse(JSON.stringify(schema)));
  }

  schemas(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, { json }] of [...this.named].sort(([a], [b]) => a.localeCompare(b))) out[name] = this.refs(JSON.parse(json), true);
    return out;
  }

  private refs(node: unknown, isRoot = false): unknown {
    if (node === null || typeof node !== 'object') return node;
    const name = isRoot ? undefined : this.byJson.get(JSON.stringify(node));
    if (name) return { $ref: `#/components/schemas/${name}` };
    if (Array.isArray(node)) return node.map((n) => this.refs(n));
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === 'properties' ? this.refsOf(v) : this.refs(v)]));
  }

  /** A properties map: its values are schemas, the map itself is not one. */
  private refsOf(properties: object): unknown {
    return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, this.refs(v)]));
  }
}
