import { randomBytes } from 'node:crypto';
import { cpus, release, totalmem, type, arch } from 'node:os';
import { engineSettings, logSettings, serviceSettings } from '../../settings/views.ts';
import { withScratch } from '../scratch.ts';
import type { Step } from '../../cli/progress.ts';
import type { Scenario, SuiteContext, SuiteOptions } from './context.ts';
import { cartMix, flashSale } from './scenarios/sales.ts';
import { scale } from './scenarios/scale.ts';
import { ceiling, reserveHot, rowLockBaseline, soldOutStampede } from './scenarios/steady.ts';
import { startStack, type Stack } from './stack.ts';
import { evaluateTargets } from './targets.ts';
import type { Machine, ScenarioResult, SuiteReport } from './types.ts';

/** Every scenario, in the order they run (scale last: it expires every hold the others left). */
export const scenarios: Scenario[] = [ceiling, reserveHot, soldOutStampede, flashSale, cartMix, rowLockBaseline, scale];

export const suiteDefaults = {
  full: { connections: 100, seconds: 10, warmupSeconds: 2 },
  quick: { connections: 100, seconds: 3, warmupSeconds: 1 },
};

/** What runs the suite: a step per scenario (for the progress list), after a first step that starts the stack. */
export type StepRunner = (steps: Step[]) => Promise<void>;

/** Starts the stack, runs every scenario (a scenario that throws is a failed check, and the others still run), and returns the report. */
export async function runSuite(o: SuiteOptions & { only?: string[] }, runSteps: StepRunner): Promise<SuiteReport> {
  const startedAt = new Date();
  const chosen = (o.only?.length ? scenarios.filter((s) => o.only!.includes(s.name)) : scenarios)
    .filter((s) => !(o.redisCluster && s.singleRedis));
  const redis = o.redisCluster ? `a Redis Cluster of ${o.redisCluster} masters` : 'redis-server';
  return withScratch('stockade-bench-suite-', async (scratch) => {
    const state: { stack?: Stack } = {};
    const results: ScenarioResult[] = [];
    const prefix = `b${randomBytes(3).toString('hex')}-`;
    await runSteps([
      { title: `start stockade (${o.processes} API process${o.processes === 1 ? '' : 'es'}) with ${serviceSettings().redisUrl ? 'the given services' : `its own ${redis} and PostgreSQL`}`,
        run: async () => { state.stack = await startStack(scratch, { processes: o.processes }); } },
      ...chosen.map((scenario): Step => ({
        title: `${scenario.name}: ${scenario.description}`,
        expectedSeconds: scenario.expectedSeconds(o),
        run: async (report) => {
          const ctx: SuiteContext = { ...o, stack: state.stack!, prefix, report };
          results.push(await scenario.run(ctx).catch((error: Error) => failed(scenario, error)));
        },
      })),
    ]);
    const stack = state.stack!;
    const ok = results.every((r) => r.checks.every((c) => c.ok));
    return {
      startedAt: startedAt.toISOString(), durationSec: Math.round((Date.now() - startedAt.getTime()) / 1000), mode: o.quick ? 'quick' : 'full',
      machine: await machine(stack), settings: settingsOf(o, stack), generator: generatorDoc(o), scenarios: results, targets: evaluateTargets(results), ok,
    };
  });
}

function failed(scenario: Scenario, error: Error): ScenarioResult {
  return { name: scenario.name, description: scenario.description, runs: [], figures: {},
    checks: [{ name: `${scenario.name} ran to the end`, ok: false, detail: error.message.slice(0, 500) }] };
}

async function machine(stack: Stack): Promise<Machine> {
  const info = await stack.redis.info('server');
  const [pg] = await stack.sql<Array<{ server_version: string }>>`show server_version`;
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? 'unknown', cores: cores.length, memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()} ${arch()}`, node: process.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown', postgres: pg?.server_version ?? 'unknown',
  };
}

function settingsOf(o: SuiteOptions, stack: Stack): Record<string, number | string> {
  const engine = engineSettings(stack.env);
  return {
    'API processes (STOCKADE_API_PROCESSES)': o.processes,
    'partitions (STOCKADE_PARTITIONS)': engine.partitions,
    'connections': o.connections,
    'measured seconds per run (after a warm-up)': `${o.seconds} s (+${o.warmupSeconds} s)`,
    'services': stack.embedded ? `embedded (started for the run), Redis AOF ${serviceSettings(stack.env).redisAppendfsync}`
      + (o.redisCluster ? `, a Redis Cluster of ${o.redisCluster} masters with a replica each` : '') : 'given by REDIS_URL and DATABASE_URL',
    'hold TTL': `${engine.holdTtlMsDefault} ms (default)`,
    'rate limits': 'off (the benchmark measures the engine)',
    'log level': logSettings(stack.env).level,
  };
}

function generatorDoc(o: SuiteOptions): string {
  return `autocannon 8 in the bench process (one generator, ${o.connections} connections, no pipelining), on the same machine as the server. `
    + 'Each request is built in setupRequest: its Idempotency-Key in a header, its body written as a string (no idReplacement: it costs the generator '
    + 'more than the server, and [<id>] inside a body gets a wrong Content-Length). Server CPU = all busy CPU of the machine (/proc/stat, without steal) '
    + 'minus this process\'s; generator CPU = this process\'s.';
}
