import { setTimeout as sleepMs } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withScratch } from '../bench/scratch.ts';
import { connectDb } from '../store/db.ts';
import { newLedger, runSale, type Ledger } from './buyers.ts';
import { clusterFaultKinds, faultKinds, injectFaults, type FaultKind, type Injected } from './faults.ts';
import { Fleet } from './fleet.ts';
import { Rng } from './rng.ts';
import { durableAgainstLedger, idempotentAgainstLedger, noOversell, terminatedAgainstLedger, type InvariantResult, type LossWindow } from './verdict.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/stockade.mjs', import.meta.url));

export interface ChaosOptions {
  quick: boolean;
  /** Seconds of sale under faults (default: 60 with --quick, 300 otherwise). */
  seconds?: number;
  seed?: number;
  /** Only these faults (default: every kind of the run's Redis). */
  only?: FaultKind[];
  /** On a local Redis Cluster of this many masters, a replica each (its faults: kill-process, kill-master, stop-postgres). */
  redisCluster?: number;
  progress?: (line: string) => void;
}

export interface ChaosReport {
  ok: boolean;
  seed: number;
  quick: boolean;
  saleSeconds: number;
  durationSec: number;
  settings: Record<string, string>;
  faults: Injected[];
  restarts: number;
  requests: { byStatus: Record<string, number>; unanswered: number; resends: number; sentTwice: number };
  reservations: number;
  acknowledgedConfirms: number;
  invariants: InvariantResult[];
  repair: string;
}

/** The sale's SKUs: few and small enough to sell out under the load, so refusals and sold-out answers are in the mix. */
const skuCount = 6;
const stockPerSku = { quick: 250, full: 2_000 };
const priceCents = 1_250;
/** Settings of every Stockade process: short windows so that expiry and the overdue recovery happen within the run. */
function serverEnv(quick: boolean): Record<string, string> {
  return {
    STOCKADE_LOG_LEVEL: 'warn',
    STOCKADE_PAYMENT_TIMEOUT_MS: '1000',
    STOCKADE_PAYMENT_WINDOW_MS: '4000',
    STOCKADE_PAYMENT_FAILURE_RATE: '0.05',
    STOCKADE_PAYMENT_LATENCY_MS: '5',
    STOCKADE_SWEEP_INTERVAL_MS: '500',
    STOCKADE_CRASH_POINTS: quick ? 'after-charge:0.004,after-commit:0.004,after-pg-insert:0.01' : 'after-charge:0.002,after-commit:0.002,after-pg-insert:0.005',
    STOCKADE_RATE_LIMIT_TOKEN_PER_S: '0',
    STOCKADE_RATE_LIMIT_USER_PER_S: '0',
  };
}

/** How long the drain after the sale may take: write-through catching up, overdue payments, expiry. */
const drainTimeoutMs = 120_000;

/**
 * `stockade chaos`: a flash sale against real processes while faults are
 * injected; then every fault healed, the system drained, `reconcile repair`
 * and `reconcile verify`, and every invariant checked, against the buyers'
 * own ledger where it can be.
 */
export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const rng = new Rng(seed);
  const saleSeconds = o.seconds ?? (o.quick ? 60 : 300);
  const say = o.progress ?? (() => {});
  const started = Date.now();
  return withScratch('stockade-chaos-', async (scratch) => {
    const env = serverEnv(o.quick);
    const kinds = faultsOf(o);
    const redis = o.redisCluster ? `a Redis Cluster (${o.redisCluster} masters, a replica each)` : 'redis-server (AOF)';
    say(`seed ${seed}: starting ${redis}, PostgreSQL, stockade start (2 API processes) and 2 stockade workers`);
    const fleet = await Fleet.start(scratch, { apiProcesses: 2, workerProcesses: 2, env, ...(o.redisCluster ? { redisCluster: o.redisCluster } : {}) });
    const sql = connectDb(fleet.services.databaseUrl, { max: 2 });
    scratch.atRemoval(() => sql.end({ timeout: 5 }));
    const skus = Array.from({ length: skuCount }, (_, i) => `CHAOS-${seed}-${i}`);
    const stock = o.quick ? stockPerSku.quick : stockPerSku.full;
    for (const sku of skus) await admin(fleet, 'POST', '/v1/products', { sku, name: sku, price_cents: priceCents, stock });

    const ledger = newLedger();
    const faults: Injected[] = [];
    let dataLost = false;
    const lossWindows: LossWindow[] = [];
    const saleStart = Date.now();
    const untilMs = saleStart + saleSeconds * 1000;
    say(`sale: ${saleSeconds} s, ${skus.length} SKUs × ${stock} units, faults: ${kinds.join(', ')}`);
    await Promise.all([
      runSale({ base: fleet.base, clientToken: fleet.clientToken, skus, priceCents, buyers: o.quick ? 24 : 48, untilMs, requestTimeoutMs: 10_000 },
        rng.fork(1_000_000), ledger),
      injectFaults(fleet, {
        kinds, gapMs: o.quick ? { min: 2_000, max: 5_000 } : { min: 3_000, max: 10_000 },
        postgresDownMs: o.quick ? 10_000 : 30_000, dataLossAgeMs: { min: 2_000, max: 5_000 },
        repair: async () => summary(await reconcile(fleet, 'repair')),
        lost: (w) => lossWindows.push(w),
      }, rng.fork(2_000_000), saleStart, untilMs, (i) => {
        if (i.kind === 'redis-data-loss' || i.kind === 'kill-master') dataLost = true;
        faults.push(i);
        say(`${i.atSec}s ${i.kind}: ${i.detail}`);
      }),
    ]);

    say('sale over: healing every fault, draining, repairing');
    await fleet.ensureServices();
    await fleet.waitServing(drainTimeoutMs);
    const repaired = await drain(fleet, ledger);
    const verify = await reconcile(fleet, 'verify');
    const lost = new Set<string>();
    const invariants = [
      verifyResult(verify),
      await durableAgainstLedger(sql, ledger),
      await terminatedAgainstLedger(sql, ledger, (id) => statusOf(fleet, id), dataLost, lost),
      await noOversell(sql, ledger, new Map(skus.map((s) => [s, stock]))),
      idempotentAgainstLedger(ledger, lost, lossWindows),
    ];
    const report: ChaosReport = {
      ok: invariants.every((i) => i.ok), seed, quick: o.quick, saleSeconds, durationSec: Math.round((Date.now() - started) / 1000),
      settings: env, faults, restarts: fleet.restarts(),
      requests: { byStatus: Object.fromEntries([...ledger.statuses].sort()), unanswered: ledger.unanswered, resends: ledger.retries, sentTwice: ledger.duplicatesSent },
      reservations: ledger.held.size,
      acknowledgedConfirms: [...ledger.held.values()].filter((h) => h.confirm?.status === 200).length,
      invariants, repair: repaired,
    };
    if (!report.ok) say(fleet.logs());
    return report;
  });
}

/** The faults of a run: --only, else every kind of its Redis; a fault of the other kind of Redis is refused. */
function faultsOf(o: ChaosOptions): readonly FaultKind[] {
  const own = o.redisCluster ? clusterFaultKinds : faultKinds;
  const foreign = (o.only ?? []).filter((k) => !own.includes(k));
  if (foreign.length > 0) {
    throw new Error(`${foreign.join(', ')}: not a fault of a run ${o.redisCluster ? 'on a Redis Cluster' : 'on one redis-server (kill-master needs --redis-cluster N)'}`);
  }
  return o.only ?? own;
}

/**
 * After the sale: waits past every hold's deadline and every payment window, then
 * runs repair until verify holds and write-through has drained every outbox (the
 * buyers' ledger is checked against PostgreSQL next; an undrained order passes
 * verify, not that check), bounded.
 */
async function drain(fleet: Fleet, ledger: Ledger): Promise<string> {
  const lastDeadline = Math.max(0, ...[...ledger.held.values()].map((h) => h.expiresAtMs));
  await sleepMs(Math.max(0, lastDeadline - Date.now()) + 5_000);
  const deadline = Date.now() + drainTimeoutMs;
  for (;;) {
    const out = await reconcile(fleet, 'repair');
    const drained = out.after?.checked?.outbox === 0 && out.after.checked.parked === 0;
    if ((out.ok && drained) || Date.now() > deadline) return summary(out);
    await sleepMs(1_000);
  }
}

interface ReconcileViolation { kind: string; sku?: string; reservation?: string; expected: unknown; found: unknown; detail: string }

interface ReconcileOutput {
  ok: boolean;
  actions?: { kind: string; sku?: string; reservation?: string; detail: string }[];
  after?: { ok: boolean; violations: ReconcileViolation[]; checked?: Record<string, number> };
  violations?: ReconcileViolation[];
  checked?: Record<string, number>;
}

async function reconcile(fleet: Fleet, step: 'repair' | 'verify'): Promise<ReconcileOutput> {
  // The operator's tool runs without the crash points: they injure the fleet, not the repair of it.
  const { STOCKADE_CRASH_POINTS: _armed, ...env } = fleet.env;
  const out = await run(process.execPath, [bin, 'reconcile', step, '--json'], { env, timeout: 120_000, maxBuffer: 64 << 20 })
    .catch((error: { code?: number; stdout?: string; stderr?: string }) => {
      if (error.code === 1 && error.stdout) return { stdout: error.stdout };
      return { stdout: JSON.stringify({ ok: false, failed: `${error.stderr ?? error}`.slice(0, 500) }) };
    });
  const lines = out.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1)!) as ReconcileOutput;
}

function summary(out: ReconcileOutput & { failed?: string }): string {
  if (out.failed) return `failed: ${out.failed}`;
  const kinds = new Map<string, number>();
  for (const a of out.actions ?? []) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
  const acted = [...kinds].map(([k, n]) => `${k} ×${n}`).join(', ') || 'nothing to do';
  // What repair left, and what still differs, in words (the first few): a run's report says why, not only how many.
  const left = (out.actions ?? []).filter((a) => a.kind === 'left').slice(0, 3).map((a) => `left ${a.reservation ?? a.sku ?? ''}: ${a.detail}`);
  const still = (out.after?.violations ?? []).slice(0, 3).map((v) => `${v.kind} ${v.reservation ?? v.sku ?? ''}: found ${v.found}`);
  const why = [...left, ...still].map((w) => `; ${w}`).join('');
  return `${acted}; after: ${out.ok ? 'every invariant holds' : `${out.after?.violations.length ?? '?'} violations`}${why}`;
}

function verifyResult(out: ReconcileOutput & { failed?: string }): InvariantResult {
  const violations = out.failed ? [out.failed] : (out.violations ?? []).map((v) => `${v.kind}${v.sku ? ` ${v.sku}` : ''}${v.reservation ? ` ${v.reservation}` : ''}: `
    + `expected ${v.expected}, found ${v.found} (${v.detail})`);
  const scope = out.checked ? Object.entries(out.checked).map(([k, v]) => `${v} ${k}`).join(', ') : '';
  return { name: 'C, N, D, T across Redis, PostgreSQL and the provider (stockade reconcile verify, after repair)', ok: out.ok && violations.length === 0,
    detail: scope, violations: violations.slice(0, 10) };
}

async function statusOf(fleet: Fleet, id: string): Promise<string | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await fetch(`${fleet.base}/v1/reservations/${id}`, { headers: { authorization: `Bearer ${fleet.clientToken}` }, signal: AbortSignal.timeout(10_000) })
      .catch(() => null);
    if (res?.status === 200) return ((await res.json()) as { status: string }).status;
    if (res?.status === 404) return null;
    await sleepMs(250);
  }
  return 'unanswered';
}

/** An admin request, sent again while it is answered 503 (the start placeholder, 'starting', may still hold the port), bounded. */
async function admin(fleet: Fleet, method: string, path: string, body: unknown): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${fleet.base}${path}`, { method, headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body) });
    if (res.status === 503 && attempt < 300) {
      await sleepMs(200);
      continue;
    }
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return;
  }
}


