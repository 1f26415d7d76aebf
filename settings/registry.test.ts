import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { levels } from 'pino';
import { describe, expect, it } from 'vitest';
import { defaultText } from './load.ts';
import { logLevels, registry, type Setting } from './registry.ts';

const root = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

/** The README's Configuration table row of a setting, as the registry says it. */
function readmeRow(s: Setting): string {
  return `| \`${s.name}\` | ${s.doc} | ${s.kind.allowed} | ${defaultText(s)} | ${s.roles.join(', ')} |`;
}

/** The rows of the README's Configuration table, by variable. */
function readmeTable(): Map<string, string> {
  const section = read('README.md').split(/^## /m).find((part) => part.startsWith('Configuration\n'));
  if (!section) throw new Error('README.md has no "## Configuration" section');
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  return new Map(rows.map((row) => [/^\| `([^`]+)`/.exec(row)![1]!, row]));
}

describe('the registry', () => {
  it('declares each variable once', () => {
    const names = registry.map((s) => s.name);
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([]);
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('every default is a value its kind allows', () => {
    for (const s of registry.filter((s) => s.default !== undefined)) {
      expect(s.kind.parse(String(s.default)), s.name).toBe(s.default);
    }
  });

  it('every setting without a default says what unset means', () => {
    for (const s of registry.filter((s) => s.default === undefined)) expect(s.defaultDoc, s.name).toBeTruthy();
  });

  it("STOCKADE_LOG_LEVEL's words are pino's levels", () => {
    expect([...logLevels].sort()).toEqual([...Object.keys(levels.values), 'silent'].sort());
  });
});

describe("the README's Configuration table", () => {
  const table = readmeTable();
  const expected = registry.map(readmeRow).join('\n');

  it('lists every setting of the registry, and no other', () => {
    const names = registry.map((s) => s.name);
    expect({ missing: names.filter((n) => !table.has(n)), extra: [...table.keys()].filter((n) => !names.includes(n)) })
      .toEqual({ missing: [], extra: [] });
  });

  it("gives each the registry's default, allowed values, roles and doc, in its order", () => {
    for (const s of registry) expect(table.get(s.name)?.split(' | ')[3], `default of ${s.name}`).toBe(defaultText(s));
    // On failure, the expected rows are the registry's own: paste them into README.md.
    expect([...table.values()].join('\n')).toBe(expected);
  });
});

describe('the environment is read only through the registry', () => {
  const sources = ['engine', 'api', 'workers', 'settings', 'app', 'services', 'store', 'payments', 'cli', 'bench', 'scripts', 'bin']
    .flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).map((file) => join(dir, file)))
    .filter((file) => /\.(ts|mjs|sh)$/.test(file));
  const declared = new Set(registry.map((s) => s.name));

  it('every STOCKADE_ name the code and docs mention is declared', () => {
    const files = [...sources, 'README.md', 'docker-compose.yml'];
    const unknown = files.flatMap((file) => [...read(file).matchAll(/\bSTOCKADE_[A-Z0-9_]+/g)]
      .filter(([name]) => !declared.has(name)).map(([name]) => `${file}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it('no code outside settings/ reads a variable itself', () => {
    const reads = sources.filter((file) => !file.startsWith('settings') && !file.endsWith('.test.ts') && file.endsWith('.ts'))
      .flatMap((file) => [...read(file).matchAll(/\benv\s*(\.\s*[A-Z_][A-Z0-9_]*|\[)/g)].map(([text]) => `${file}: ${text}`));
    expect(reads).toEqual([]);
  });
});
