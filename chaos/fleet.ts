import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, rmSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalCluster, type LocalCluster } from '../services/cluster.ts';
import { startLocalServices, stopLocalServices, type LocalServices } from '../services/local.ts';
import { freePort, isAlive, waitForHttp } from '../services/process.ts';
import { serverPid } from '../services/redis.ts';
import type { Scratch } from '../bench/scratch.ts';

/**
 * The processes a chaos run injures and heals: the embedded redis-server (AOF)
 * and PostgreSQL in the run's scratch dir, `stockade start` (its API processes,
 * write-through and sweeps) and extra `stockade workers`. A process that dies
 * (killed by a fault, or by an armed crash point) is started again by its
 * supervisor until the fleet stops.
 */
export interface FleetOptions {
  apiProcesses: number;
  workerProcesses: number;
  /** Environment of every Stockade process beyond the fleet's own (crash points, provider faults, short windows). */
  env: Record<string, string>;
  /** On a local Redis Cluster of this many masters (a replica each) instead of the embedded redis-server. */
  redisCluster?: number;
}

/** How long a master's failover may take before the run gives up (node timeout 3 s, an election, a loaded machine). */
const failoverTimeoutMs = 60_000;

/** How long a process that died stays down before its supervisor starts it again. */
const restartDelayMs = 300;
/** How long a start may take before the run gives up (a loaded machine starts slowly). */
const startTimeoutMs = 120_000;

const bin = fileURLToPath(new URL('../bin/stockade.mjs', import.meta.url));

/** A Stockade process kept running: started again whenever it exits, until stopped. */
class Supervised {
  child: ChildProcess | null = null;
  restarts = 0;
  private stopping = false;
  private output = '';

  constructor(readonly name: string, private readonly args: string[], private readonly env: NodeJS.ProcessEnv) {}

  start(): void {
    const child = spawn(process.execPath, [bin, ...this.args], { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    // The last 16 KiB of its log: what a failed run prints.
    const keep = (d: Buffer) => { this.output = (this.output + d.toString()).slice(-16_384); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', () => {
      if (this.stopping) return;
      this.restarts += 1;
      setTimeout(() => { if (!this.stopping) this.start(); }, restartDelayMs).unref();
    });
  }

  log(): string {
    return this.output;
  }

  /** SIGTERM (a clean stop), SIGKILL past the wait. */
  async stop(waitMs = 20_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
    await exited;
    clearTimeout(timer);
  }
}

export class Fleet {
  readonly base: string;
  readonly adminToken = randomBytes(24).toString('base64url');
  readonly clientToken = randomBytes(24).toString('base64url');
  /** The environment Stockade's processes run with (`stockade reconcile …` with it finds the same services). */
  readonly env: NodeJS.ProcessEnv;
  private readonly primary: Supervised;
  private readonly workers: Supervised[];

  private constructor(private readonly dir: string, readonly services: LocalServices, port: number, o: FleetOptions,
    private readonly cluster: LocalCluster | null) {
    this.base = `http://127.0.0.1:${port}`;
    this.env = {
      ...process.env, ...o.env, PORT: String(port), STOCKADE_HOST: '127.0.0.1', STOCKADE_DATA_DIR: dir,
      REDIS_URL: services.redisUrl, DATABASE_URL: services.databaseUrl, STOCKADE_API_PROCESSES: String(o.apiProcesses),
      STOCKADE_ADMIN_TOKEN: this.adminToken, STOCKADE_CLIENT_TOKEN: this.clientToken,
      // A process started again while the node REDIS_URL names is down still takes it for a cluster node.
      ...(cluster ? { STOCKADE_REDIS_CLUSTER: 'on' } : {}),
    };
    this.primary = new Supervised('stockade start', ['start'], this.env);
    this.workers = Array.from({ length: o.workerProcesses }, (_, i) => new Supervised(`stockade workers #${i + 1}`, ['workers'], this.env));
  }

  /** Starts the services and every process; resolves once the API answers /readyz. Everything is stopped when the scratch dir goes. */
  static async start(scratch: Scratch, o: FleetOptions): Promise<Fleet> {
    const only = { redis: !o.redisCluster, postgres: true };
    let services = await scratch.started(startLocalServices({ dataDir: scratch.dir, only }), () => stopLocalServices(scratch.dir, { fast: true }));
    let cluster: LocalCluster | null = null;
    if (o.redisCluster) {
      const started = await startLocalCluster({ masters: o.redisCluster, under: scratch.dir, password: randomBytes(24).toString('hex') });
      scratch.atRemoval(() => started.stop());
      cluster = started;
      services = { ...services, redisUrl: started.url, redisAdminUrl: started.url };
    }
    const fleet = new Fleet(scratch.dir, services, await freePort(), o, cluster);
    scratch.atRemoval(() => fleet.stop());
    fleet.primary.start();
    for (const w of fleet.workers) w.start();
    await fleet.waitReady(startTimeoutMs);
    return fleet;
  }

  /** Waits until /readyz answers 200 (every part up, nothing fenced). */
  async waitReady(timeoutMs: number): Promise<void> {
    await waitForHttp(`${this.base}/readyz`, timeoutMs).catch((error: Error) => { throw new Error(`${error.message}\n${this.logs()}`); });
  }

  /**
   * Waits until the API answers /readyz with every part up, fenced partitions
   * aside: after a data loss they stay fenced until `reconcile repair` has run,
   * which is what comes next.
   */
  async waitServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const body = await fetch(`${this.base}/readyz`, { headers: { authorization: `Bearer ${this.adminToken}` },
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) })
        .then((r) => r.json() as Promise<{ reasons?: string[] }>).catch(() => null);
      if (body?.reasons && body.reasons.every((r) => r === 'fenced')) return;
      await sleep(100);
    }
    throw new Error(`${this.base}/readyz did not answer with every part up within ${timeoutMs} ms\n${this.logs()}`);
  }

  /** The processes a `kill -9` may hit: API processes (forked by the primary), and the workers processes (write-through, sweeps). */
  victims(): { name: string; pid: number }[] {
    const out: { name: string; pid: number }[] = [];
    const primaryPid = this.primary.child?.pid;
    if (primaryPid) for (const pid of childrenOf(primaryPid)) out.push({ name: 'API process', pid });
    for (const w of this.workers) if (w.child?.pid && isAlive(w.child.pid)) out.push({ name: w.name, pid: w.child.pid });
    return out;
  }

  /** The primary's pid (its kill takes its API processes with it: each exits when its primary is gone). */
  primaryPid(): number | undefined {
    return this.primary.child?.pid;
  }

  restarts(): number {
    return this.primary.restarts + this.workers.reduce((sum, w) => sum + w.restarts, 0);
  }

  redisPid(): number {
    return serverPid(join(this.dir, 'redis'));
  }

  /** kill -9 of redis-server; started again from its AOF after downMs. */
  async crashRedis(downMs: number, replaceAof?: string): Promise<void> {
    const pid = this.redisPid();
    if (pid > 0) {
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(20);
    }
    if (replaceAof) {
      const aof = join(this.dir, 'redis', 'appendonlydir');
      rmSync(aof, { recursive: true, force: true });
      cpSync(replaceAof, aof, { recursive: true, preserveTimestamps: true });
      chownLike(aof, join(this.dir, 'redis'));
    }
    await sleep(downMs);
    await startLocalServices({ dataDir: this.dir, only: { redis: true, postgres: false } });
  }

  /** A copy of redis-server's AOF as it is now (what a lagging replica or an older backup would hold). */
  snapshotAof(): string {
    const to = join(this.dir, `aof-snapshot-${Date.now()}`);
    cpSync(join(this.dir, 'redis', 'appendonlydir'), to, { recursive: true, preserveTimestamps: true });
    return to;
  }

  /** PostgreSQL stopped (fast) for downMs, then started again. */
  async stopPostgres(downMs: number): Promise<void> {
    await stopLocalServices(this.dir, { only: { redis: false, postgres: true } });
    await sleep(downMs);
    await startLocalServices({ dataDir: this.dir, only: { redis: false, postgres: true } });
  }

  /**
   * kill -9 of a master of the cluster (picked by `pick` among the masters), waits for its replica's promotion,
   * then starts the killed node again: it rejoins as the new master's replica. What it says happened.
   */
  async killMaster(pick: (n: number) => number): Promise<string> {
    const cluster = this.requireCluster();
    const masters = await cluster.masters();
    const victim = masters[pick(masters.length)]!;
    await cluster.kill(victim);
    const killedAt = Date.now();
    const promoted = await cluster.waitFailover(victim, failoverTimeoutMs);
    const tookMs = Date.now() - killedAt;
    await cluster.restart(victim);
    return `kill -9 of master :${victim}; its replica :${promoted} took its slots after ${tookMs} ms; :${victim} started again (a replica now)`;
  }

  private requireCluster(): LocalCluster {
    if (!this.cluster) throw new Error('this fault needs a Redis Cluster (stockade chaos --redis-cluster N)');
    return this.cluster;
  }

  /** Makes sure the services run (a fault may have been cut short by the end of the run). */
  async ensureServices(): Promise<void> {
    await startLocalServices({ dataDir: this.dir, only: { redis: !this.cluster, postgres: true } });
  }

  logs(): string {
    // The last lines of each, each cut short: enough to see what went wrong without drowning the report.
    const tail = (log: string) => log.split('\n').filter(Boolean).slice(-6).map((l) => l.slice(0, 400)).join('\n');
    return [this.primary, ...this.workers].map((p) => `--- ${p.name} (last lines)\n${tail(p.log())}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all([this.primary.stop(), ...this.workers.map((w) => w.stop())]);
    for (const pid of this.primaryPid() ? childrenOf(this.primaryPid()!) : []) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

/** The live children of pid, from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number).filter(isAlive);
  } catch {
    return [];
  }
}

/** Gives a copied tree the owner of `like` (redis-server runs as its own OS user when Stockade runs as root). */
function chownLike(path: string, like: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(like);
  execFileSync('chown', ['-R', `${uid}:${gid}`, path], { stdio: 'ignore' });
}
