import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { call, type Stack } from './stack.ts';
import type { Check, LoadRun } from './types.ts';

/**
 * The checks after each scenario: DESIGN.md §2's invariants (conservation,
 * no oversell, durable acknowledgement, termination, as `stockade reconcile
 * verify` proves them over Redis, PostgreSQL and the payment provider) and the
 * scenario's own expectations (the statuses it may answer, the units its
 * answers account for). A failed check fails the run (exit 1).
 */
export interface StockCounts {
  total: number;
  available: number;
  reserved: number;
  sold: number;
}

/** C and N for one SKU: available + reserved + sold == total, none below zero, sold ≤ total. */
export function conserved(sku: string, s: StockCounts): Check {
  const sum = s.available + s.reserved + s.sold;
  const negative = [s.available, s.reserved, s.sold, s.total].some((n) => n < 0);
  const ok = sum === s.total && !negative && s.sold <= s.total;
  return { name: `stock of ${sku} conserved, not oversold`, ok,
    detail: `total ${s.total} = available ${s.available} + reserved ${s.reserved} + sold ${s.sold}${ok ? '' : ` (sum ${sum}${negative ? ', a count below zero' : ''})`}` };
}

/** Every response had one of the allowed statuses; no connection errors or timeouts. */
export function onlyStatuses(run: LoadRun, allowed: string[]): Check {
  const other = Object.entries(run.statuses).filter(([code]) => !allowed.includes(code));
  const ok = other.length === 0 && run.errors === 0 && run.timeouts === 0 && run.requests > 0;
  const seen = Object.entries(run.statuses).map(([code, n]) => `${code}: ${n}`).join(', ') || 'no responses';
  return { name: `${run.label}: only ${allowed.join('/')} answered`, ok,
    detail: `${seen}; ${run.errors} errors, ${run.timeouts} timeouts` };
}

/** Two counts that must be equal (units granted and units the store holds, orders acknowledged and orders written). */
export function equal(name: string, expected: number, found: number, unit: string): Check {
  return { name, ok: expected === found, detail: expected === found ? `${found} ${unit}` : `expected ${expected} ${unit}, found ${found}` };
}

const settleReadEveryMs = 100;
const settleWaitMaxMs = 10_000;

/**
 * Reads until two reads in a row agree (bounded): requests in flight when a
 * run stopped still finish in the server after it, and a check must not race them.
 */
export async function settled<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + settleWaitMaxMs;
  let last = JSON.stringify(await read());
  for (;;) {
    await new Promise((r) => setTimeout(r, settleReadEveryMs));
    const value = await read();
    const now = JSON.stringify(value);
    if (now === last || Date.now() > deadline) return value;
    last = now;
  }
}

/** A SKU's counts as the API shows them. */
export async function stockOf(stack: Stack, sku: string): Promise<StockCounts> {
  const r = await call(stack, 'GET', `/v1/products/${encodeURIComponent(sku)}`);
  if (r.status !== 200) throw new Error(`GET /v1/products/${sku}: ${r.status}`);
  return r.body.stock as StockCounts;
}

/** The whole report of `stockade reconcile verify --json`, run as an operator would (same environment as the server). */
export interface VerifyOutput {
  ok: boolean;
  violations: Array<{ kind: string; sku?: string; detail: string }>;
  checked: { skus: number; orders: number; charges: number; outbox: number };
}

const verifyTimeoutMs = 120_000;
const run = promisify(execFile);

/** `stockade reconcile verify --json` against the stack; its exit status 1 (violations) is a result, not an error. */
export async function verifyStores(stack: Stack): Promise<Check> {
  const bin = fileURLToPath(new URL('../../bin/stockade.mjs', import.meta.url));
  const out = await run(process.execPath, [bin, 'reconcile', 'verify', '--json'], { env: stack.env, timeout: verifyTimeoutMs, maxBuffer: 64 << 20 })
    .catch((error: { code?: number; stdout?: string; stderr?: string }) => {
      if (error.code === 1 && error.stdout) return { stdout: error.stdout };
      throw new Error(`stockade reconcile verify failed: ${error.stderr ?? error}`);
    });
  return verifyCheck(JSON.parse(out.stdout) as VerifyOutput);
}

/** verify's report as a check: its violations by kind, with the first few named. */
export function verifyCheck(report: VerifyOutput): Check {
  const { checked } = report;
  const scope = `${checked.skus} SKUs, ${checked.orders} orders, ${checked.charges} charges, ${checked.outbox} outbox entries not yet written`;
  if (report.ok) return { name: 'stockade reconcile verify (C, N, D, T)', ok: true, detail: `no violation over ${scope}` };
  const byKind = new Map<string, number>();
  for (const v of report.violations) byKind.set(v.kind, (byKind.get(v.kind) ?? 0) + 1);
  const first = report.violations.slice(0, 3).map((v) => `${v.kind}${v.sku ? ` ${v.sku}` : ''}: ${v.detail}`).join('; ');
  return { name: 'stockade reconcile verify (C, N, D, T)', ok: false,
    detail: `${[...byKind].map(([k, n]) => `${k} ×${n}`).join(', ')} over ${scope}. ${first}` };
}
