import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { processRoles, setServiceSetting } from '../settings/views.ts';

/*
 * The `stockade` command. Each command's module is imported when that command
 * runs, so `--help` and `--version` load commander and this file alone.
 */

/** An action that imports its module when its command runs. */
function lazy<M, K extends keyof M>(load: () => Promise<M>, name: K) {
  return async (...args: unknown[]): Promise<void> => {
    const action = (await load())[name] as (...a: unknown[]) => unknown;
    await action(...args);
  };
}

/** Parses a count or a duration option: a whole number, at least 1. */
function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number, at least 1');
  return n;
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('stockade')
  .description('Stockade: a reservation engine for flash sales')
  .version(version, '-v, --version', 'print the version')
  .showHelpAfterError();

/** `--redis-cluster N`: the embedded Redis as a local Redis Cluster of N masters (the setting STOCKADE_REDIS_CLUSTER_MASTERS, checked with the others). */
const embeddedClusterOption = () => new Option('--redis-cluster <masters>',
  'the local Redis as a Redis Cluster of that many masters (3-16), a replica each, kept in the data dir (STOCKADE_REDIS_CLUSTER_MASTERS)')
  .argParser((value: string) => {
    setServiceSetting('redisClusterMasters', value);
    return value;
  });

program.command('start').description('run the engine (with its local Redis and PostgreSQL unless REDIS_URL/DATABASE_URL are set)')
  .addOption(embeddedClusterOption())
  .action(lazy(() => import('./start.ts'), 'startCommand'));

program.command('workers').description('run write-through (outbox -> PostgreSQL) and the sweeps, no HTTP; any number may run')
  .action(lazy(() => import('./start.ts'), 'workersCommand'));

program.command('config').description('print the settings in force: name, value, from the environment or the default, roles, doc (secrets masked)')
  .addOption(new Option('--for <command>', 'the settings this command uses and checks').choices(Object.keys(processRoles)).default('start'))
  .option('--json', 'print one JSON object').action(lazy(() => import('./config.ts'), 'configCommand'));

const services = program.command('services').description('the embedded local redis-server and PostgreSQL under STOCKADE_DATA_DIR');
services.command('up').description('start them (kept running until `services down`)')
  .addOption(embeddedClusterOption())
  .option('--json', 'print one JSON object').action(lazy(() => import('./services.ts'), 'servicesUp'));
services.command('down').description('stop them')
  .option('--json', 'print one JSON object').action(lazy(() => import('./services.ts'), 'servicesDown'));
services.command('status').description('print their URLs when running (exit 1 when not)')
  .option('--json', 'print one JSON object').action(lazy(() => import('./services.ts'), 'servicesStatus'));

const reconcile = program.command('reconcile').description('reconciler steps');
reconcile.command('expire').description('expire every due hold and purge records past retention, now')
  .option('--json', 'print one JSON object').action(lazy(() => import('./reconcile.ts'), 'reconcileExpire'));
reconcile.command('verify').description('check every invariant across Redis, PostgreSQL and the payment provider; exit 1 naming each violation')
  .option('--json', 'print one JSON object').action(lazy(() => import('./reconcile.ts'), 'reconcileVerify'));
reconcile.command('repair').description('fix what can be fixed without guessing (parked entries, stuck payments, lost paid orders, broken counters); report each action')
  .option('--json', 'print one JSON object').action(lazy(() => import('./reconcile.ts'), 'reconcileRepair'));
reconcile.command('rebuild').description('restore Redis from PostgreSQL (after FLUSHALL, a lost volume, a new Redis) and lift the fences')
  .option('--force', 'rebuild over a Redis that still has state (its live holds are dropped)')
  .option('--json', 'print one JSON object').action(lazy(() => import('./reconcile.ts'), 'reconcileRebuild'));

program.command('chaos').description('a flash sale against real processes while faults are injected (kills, Redis crashes and data loss, PostgreSQL down, crash points); every invariant checked; exit 1 on a violation (npm run chaos)')
  .option('--quick', 'a bounded run (about two minutes; npm test runs it)')
  .option('--seconds <n>', 'seconds of sale under faults (default: 60 with --quick, 300 otherwise)', positive)
  .option('--seed <n>', 'the seed of the fault schedule and the buyers\' choices (a failing run prints its own)', positive)
  .addOption(new Option('--only <faults...>', 'inject only these faults').choices(['kill-process', 'kill-redis', 'redis-data-loss', 'stop-postgres', 'kill-master']))
  .option('--redis-cluster <masters>', 'on a local Redis Cluster of this many masters, a replica each (faults: kill-process, kill-master, stop-postgres)', positive)
  .option('--json', 'print the report as one JSON object')
  .action(lazy(() => import('./chaos.ts'), 'chaosCommand'));

const bench = program.command('bench').description('benchmarks (a table by default; --json for scripts)');
bench.command('suite', { isDefault: true }).description('every flash-sale scenario over HTTP against one server of its own, invariants checked after each, a report under bench/results/ (npm run bench)')
  .option('--quick', 'every scenario briefly (a smoke check, under two minutes)')
  .option('--connections <n>', 'autocannon connections', positive)
  .option('--seconds <n>', 'measured seconds of each steady run', positive)
  .option('--processes <n>', 'STOCKADE_API_PROCESSES of the server', positive, 1)
  .option('--redis-cluster <masters>', 'the server on a local Redis Cluster of that many masters (3-16), a replica each (scale runs on one redis-server only)', positive)
  .option('--only <names...>', 'run only these scenarios (ceiling, reserve-hot, sold-out-stampede, flash-sale, cart-mix, row-lock-baseline, scale)')
  .option('--out <dir>', 'where the report goes (default: bench/results/ of this checkout)')
  .option('--json', 'print the report as one JSON object')
  .action(lazy(() => import('./bench-suite.ts'), 'benchSuiteCommand'));
bench.command('engine').description('in-process reservations per second through the batching path: one hot SKU, or (spread) one SKU per partition; REDIS_URL may name a Redis Cluster node')
  .option('--seconds <n>', 'measured seconds per scenario', positive, 5)
  .option('--concurrency <n>', 'callers with a request outstanding', positive, 1_000)
  .addOption(new Option('--scenario <name>', 'which scenario').choices(['hold', 'hold-idempotent', 'sold-out', 'spread', 'all']).default('all'))
  .option('--redis-cluster <masters>', 'on a private local Redis Cluster of this many masters (a replica each) instead', positive)
  .option('--json', 'one JSON object per scenario')
  .action(lazy(() => import('./bench.ts'), 'benchEngineCommand'));
bench.command('memory').description('Redis memory per hold, per idempotency claim and per recorded refusal')
  .option('--count <n>', 'records of each kind', positive, 50_000)
  .option('--json', 'print one JSON object')
  .action(lazy(() => import('./bench.ts'), 'benchMemoryCommand'));
bench.command('expire').description('time for the expire sweep to expire many due holds, and Redis memory per active hold')
  .option('--holds <n>', 'holds made, then all due at once', positive, 100_000)
  .option('--skus <n>', 'SKUs they are spread over (every partition)', positive, 256)
  .option('--json', 'print one JSON object')
  .action(lazy(() => import('./bench.ts'), 'benchExpireCommand'));
bench.command('rebuild').description('time for `reconcile rebuild` to restore an empty Redis from a PostgreSQL of many SKUs and orders')
  .option('--skus <n>', 'products in PostgreSQL', positive, 10_000)
  .option('--orders <n>', 'orders (one unit each, every one its own user)', positive, 100_000)
  .option('--json', 'print one JSON object')
  .action(lazy(() => import('./bench.ts'), 'benchRebuildCommand'));
bench.command('writethrough').description('write-through rate (orders/s into PostgreSQL) and lag (commit to row visible)')
  .option('--orders <n>', 'orders waiting in the outbox for the drain runs', positive, 20_000)
  .option('--rate <n>', 'orders confirmed per second for the lag run', positive, 1_000)
  .option('--seconds <n>', 'length of the lag run', positive, 10)
  .option('--json', 'print one JSON object')
  .action(lazy(() => import('./bench.ts'), 'benchWriteThroughCommand'));
bench.command('http').description('a flash sale over HTTP: autocannon against stockade start (its own services), reservations with unique keys')
  .option('--seconds <n>', 'duration', positive, 10)
  .option('--connections <n>', 'concurrent connections', positive, 100)
  .option('--processes <n>', 'STOCKADE_API_PROCESSES of the server', positive, 1)
  .option('--stock <n>', 'units on sale (small: the sale sells out during the run)', positive, 100_000_000)
  .option('--json', 'print one JSON object')
  .action(lazy(() => import('./bench.ts'), 'benchHttpCommand'));

program.parseAsync(process.argv).catch(async (error: unknown) => {
  // After SIGINT/SIGTERM, a bench's failing calls are the echo of its own cleanup (bench/scratch.ts exits with the signal's code).
  const { interrupted } = await import('../bench/scratch.ts');
  if (interrupted()) return;
  const e = error as { code?: string; message?: string };
  console.error(`stockade: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`);
  process.exit(1);
});
