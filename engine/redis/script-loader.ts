import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';
import type { FaultHooks } from '../faults.ts';

const luaDir = fileURLToPath(new URL('../../lua/', import.meta.url));
const includePattern = /^--- @include "([a-zA-Z]+)"$/gm;

export interface ScriptSource {
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** Inlines `--- @include "name"` lines (each include once) from lua/includes/. */
export function expandIncludes(source: string, seen = new Set<string>()): string {
  return source.replace(includePattern, (_line, name: string) => {
    if (seen.has(name)) return `-- (${name} included above)`;
    seen.add(name);
    const body = readFileSync(`${luaDir}includes/${name}.lua`, 'utf8');
    return expandIncludes(body, seen);
  });
}

/** Every lua/<verbNoun>-<numKeys>.lua, expanded. */
export function loadScripts(): ScriptSource[] {
  const files = readdirSync(luaDir).filter((f) => /^[a-zA-Z]+-\d+\.lua$/.test(f));
  return files.map((file) => {
    const [, name, keys] = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file)!;
    const lua = expandIncludes(readFileSync(luaDir + file, 'utf8'));
    if (!lua.startsWith('#!lua')) throw new Error(`${file} must start with a #!lua line`);
    return { name: name!, numberOfKeys: Number(keys), lua };
  });
}

type Reply = unknown;
type ScriptFn = (...keysAndArgs: (string | number)[]) => Promise<Reply>;

/** The scripts as ioredis commands (EVALSHA, with EVAL on NOSCRIPT). */
export interface ScriptCommands {
  createProduct: ScriptFn;
  adjustStock: ScriptFn;
  reserveHolds: ScriptFn;
  activateCart: ScriptFn;
  beginPayment: ScriptFn;
  commitHold: ScriptFn;
  releaseHold: ScriptFn;
  expireHolds: ScriptFn;
  purgeRecords: ScriptFn;
  claimKeys: ScriptFn;
  hitRateLimit: ScriptFn;
  dueIds: ScriptFn;
  recordRefund: ScriptFn;
  readHold: ScriptFn;
  parkEntries: ScriptFn;
  forgetClaim: ScriptFn;
  restoreOrder: ScriptFn;
  restoreCartPart: ScriptFn;
  confirmRecord: ScriptFn;
  resetCounts: ScriptFn;
  checkFence: ScriptFn;
  setFence: ScriptFn;
  liftFence: ScriptFn;
}

export function defineScripts(redis: Redis | Cluster, faults?: FaultHooks): ScriptCommands {
  const commands: Record<string, ScriptFn> = {};
  for (const script of loadScripts()) {
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    const fn = (redis as unknown as Record<string, ScriptFn>)[script.name]!.bind(redis);
    commands[script.name] = faults ? withFaults(script.name, fn, faults) : fn;
  }
  return commands as unknown as ScriptCommands;
}

/** A script call that lets a test's hooks fail it before it runs, or drop (or delay) its reply after. */
function withFaults(name: string, fn: ScriptFn, faults: FaultHooks): ScriptFn {
  return async (...args) => {
    faults.beforeScript?.(name, args);
    const reply = await fn(...args);
    await faults.afterScript?.(name, args);
    return reply;
  };
}
