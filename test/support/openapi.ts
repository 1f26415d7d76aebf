import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { problemTypes, type ProblemSlug } from '../../api/problems.ts';
import type { Answer } from './api.ts';

/** Headers whose presence means something: each one a response carries must be declared for its operation and status. */
const meaningfulHeaders = ['retry-after', 'www-authenticate', 'location', 'idempotent-replayed', 'allow'];

type Doc = { paths: Record<string, Record<string, Operation>>; components: { headers: Record<string, HeaderDoc> } };
type HeaderDoc = { required?: boolean; schema?: object; $ref?: string };
type ResponseDoc = { headers?: Record<string, HeaderDoc>; content?: Record<string, { schema: object }> };
type Operation = { operationId: string; responses: Record<string, ResponseDoc> };

const pointer = (...parts: string[]) => `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

/**
 * Checks real responses against /openapi.json: the operation exists, the
 * status is declared for it, the content type is declared for that status, the
 * body validates against its schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1
 * uses), required headers are present, and every meaningful header present is
 * declared; a problem also carries the headers its type documents. Records
 * which (operation, status) pairs were seen.
 */
export class Conformance {
  readonly seen = new Map<string, Set<string>>();
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: { regex: RegExp; path: string }[];

  constructor(readonly doc: Doc) {
    (addFormats as unknown as (ajv: Ajv2020) => void)(this.ajv);
    this.ajv.addSchema(doc, 'openapi.json');
    // Literal paths before templated ones (/problems before /problems/{slug}).
    this.templates = Object.keys(doc.paths)
      .map((path) => ({ path, regex: new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`) }))
      .sort((a, b) => Number(a.path.includes('{')) - Number(b.path.includes('{')));
  }

  /** Every operation as "METHOD path". */
  operations(): string[] {
    return Object.entries(this.doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  }

  /** The declared statuses of an operation. */
  declared(operation: string): string[] {
    const [method, path] = operation.split(' ');
    return Object.keys(this.doc.paths[path!]![method!.toLowerCase()]!.responses);
  }

  /** What is wrong with this response to `method url`; [] when it conforms. */
  check(method: string, url: string, a: Answer): string[] {
    const path = new URL(url, 'http://x').pathname;
    const template = this.templates.find((t) => t.regex.test(path))?.path;
    const op = template ? this.doc.paths[template]![method.toLowerCase()] : undefined;
    if (!template || !op) return [`${method} ${path}: no such operation`];
    const key = `${method.toUpperCase()} ${template}`;
    const where = `${key} → ${a.status}`;
    const response = op.responses[String(a.status)];
    if (!response) return [`${where}: status not declared (declared: ${Object.keys(op.responses).join(', ')})`];
    (this.seen.get(key) ?? this.seen.set(key, new Set()).get(key)!).add(String(a.status));
    const errors: string[] = [];
    const contentType = a.headers.get('content-type') ?? '';
    const mediaTypes = Object.keys(response.content ?? {});
    const mediaType = mediaTypes.find((m) => m === contentType) ?? mediaTypes.find((m) => m === contentType.split(';')[0]!.trim());
    if (!mediaType) {
      errors.push(`${where}: content-type ${contentType} not declared (${mediaTypes.join(', ')})`);
    } else {
      const validate = this.validator(pointer('paths', template, method.toLowerCase(), 'responses', String(a.status), 'content', mediaType, 'schema'));
      if (!validate(a.body)) errors.push(`${where}: body ${JSON.stringify(a.body).slice(0, 300)} does not match: ${this.ajv.errorsText(validate.errors)}`);
    }
    const headers = Object.fromEntries(Object.entries(response.headers ?? {}).map(([name, h]) => [name.toLowerCase(), this.header(h)]));
    for (const [name, h] of Object.entries(headers)) {
      const value = a.headers.get(name);
      if (h.required && value === null) errors.push(`${where}: required header ${name} missing`);
      if (value !== null && h.schema && !this.ajv.validate(h.schema, headerValue(value, h.schema))) errors.push(`${where}: header ${name}: ${value} does not match`);
    }
    for (const name of meaningfulHeaders) {
      if (a.headers.get(name) !== null && !headers[name]) errors.push(`${where}: header ${name} sent but not declared`);
    }
    const slug = mediaType === 'application/problem+json' ? String(a.body?.type).replace(/^\/problems\//, '') : '';
    const documented = (problemTypes as Record<string, { headers?: readonly string[] }>)[slug as ProblemSlug]?.headers ?? [];
    for (const name of documented) if (a.headers.get(name) === null) errors.push(`${where}: ${a.body.type} without its header ${name}`);
    return errors;
  }

  /** Declared statuses never seen, by operation, less those `excused` (operation → statuses) names. */
  unseen(excused: Record<string, string[]> = {}): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const op of this.operations()) {
      const excuse = [...(excused[op] ?? []), ...(excused['*'] ?? [])];
      const missing = this.declared(op).filter((s) => !this.seen.get(op)?.has(s) && !excuse.includes(s));
      if (missing.length) out[op] = missing;
    }
    return out;
  }

  private validator(ref: string): ValidateFunction {
    let v = this.compiled.get(ref);
    if (!v) this.compiled.set(ref, (v = this.ajv.compile({ $ref: `openapi.json${ref}` })));
    return v;
  }

  private header(h: HeaderDoc): HeaderDoc {
    return h.$ref ? this.doc.components.headers[h.$ref.replace('#/components/headers/', '')]! : h;
  }
}

/** A header's text as its schema types it (Retry-After is an integer). */
function headerValue(value: string, schema: { type?: string }): unknown {
  return schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
}
