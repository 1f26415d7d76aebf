import { readFileSync, readdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expandIncludes } from './script-loader.ts';

// Each include states what it uses (`--- @include` lines at its top), so the
// order of the include lines in a script carries no meaning: every include,
// expanded alone, loads in Redis and names no helper it neither defines nor
// includes; so does every script.
const luaDir = new URL('../../lua/', import.meta.url);
const includes = readdirSync(new URL('includes/', luaDir)).filter((f) => f.endsWith('.lua'));
const scripts = readdirSync(luaDir).filter((f) => f.endsWith('.lua'));
const read = (path: string) => readFileSync(new URL(path, luaDir), 'utf8');

const keywords = new Set(['and', 'break', 'do', 'else', 'elseif', 'end', 'false', 'for', 'function', 'if', 'in', 'local',
  'nil', 'not', 'or', 'repeat', 'return', 'then', 'true', 'until', 'while']);

/** Lua source as tokens: comments and strings dropped (a string becomes the token '""'). */
function tokens(source: string): string[] {
  const pattern = /--\[(=*)\[[\s\S]*?\]\1\]|--[^\n]*|\[(=*)\[[\s\S]*?\]\2\]|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|[A-Za-z_][A-Za-z0-9_]*|\d[\dxXa-fA-F.]*|\.\.\.|\.\.|[=~<>]=|\S/g;
  return [...source.replace(/^#!.*/, '').matchAll(pattern)]
    .map((m) => m[0])
    .filter((t) => !t.startsWith('--'))
    .map((t) => (/^["'[]./.test(t) ? '""' : t));
}

const isName = (t: string | undefined) => t !== undefined && /^[A-Za-z_]/.test(t) && !keywords.has(t);

/** Whether the name at i is in the name list of a `local` or a `for` (`local a, b =`, `for k, v in`). */
function declaresList(t: string[], i: number): boolean {
  let j = i - 1;
  while (t[j] === ',' && isName(t[j - 1])) j -= 2;
  return t[j] === 'local' || t[j] === 'for';
}

/**
 * Names the source reads that it never declares (as a local, a function, a
 * parameter or a loop variable): globals, which must be Redis's own. Scopes are
 * not tracked (a name declared anywhere counts as declared), so this misses
 * some mistakes, but never reports a name that is declared.
 */
export function undeclaredNames(source: string): string[] {
  const t = tokens(source);
  const declared = new Set<string>();
  const used = new Set<string>();
  let params = false;
  for (let i = 0; i < t.length; i++) {
    const tok = t[i]!;
    if (tok === '(' && (t[i - 1] === 'function' || t[i - 2] === 'function')) params = true;
    else if (tok === ')') params = false;
    if (!isName(tok)) continue;
    if (params || t[i - 1] === 'function' || declaresList(t, i)) declared.add(tok);
    else if (t[i - 1] === '.' || t[i - 1] === ':') continue; // a field
    else if (t[i + 1] === '=' && (t[i - 1] === '{' || t[i - 1] === ',')) continue; // a table constructor's key
    else used.add(tok);
  }
  return [...used].filter((name) => !declared.has(name)).sort();
}

let redis: Redis;
let redisGlobals: Set<string>;

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'));
  redisGlobals = new Set((await redis.eval('local g = {} for k in pairs(_G) do g[#g + 1] = k end return g', 0)) as string[]);
});
afterAll(() => redis.quit());

const helpersMissing = (source: string) => undeclaredNames(source).filter((name) => !redisGlobals.has(name));

describe('lua includes', () => {
  it('the check reports helpers an include uses without including them', () => {
    const withoutIncludes = read('includes/units.lua').replace(/^--- @include .*$/gm, '');
    expect(helpersMissing(withoutIncludes)).toEqual(['LINE_STRIDE', 'saveRecord', 'unitsFreed']);
    expect(helpersMissing('local function f(a, b) return a + b end\nreturn f(1, 2) + g(3)')).toEqual(['g']);
  });

  it.each(includes)('%s, expanded alone, loads and names no helper it neither defines nor includes', async (file) => {
    const lua = expandIncludes(read(`includes/${file}`));
    expect(helpersMissing(lua)).toEqual([]);
    expect(await redis.eval(`${lua}\nreturn 1`, 0)).toBe(1);
  });

  it.each(scripts)('%s names no helper it neither defines nor includes', (file) => {
    expect(helpersMissing(expandIncludes(read(file)))).toEqual([]);
  });
});
