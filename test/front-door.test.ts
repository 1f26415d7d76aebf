import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// DESIGN.md §6: outside engine/, code imports the engine only through
// engine/index.ts. This reads every TypeScript and JavaScript file of the
// project outside engine/ and lists each import that resolves to another file
// of engine/ (static imports, re-exports and dynamic import()).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const engineDir = join(root, 'engine');
const frontDoor = join(engineDir, 'index.ts');
const skipped = new Set(['node_modules', 'engine', '.data', 'coverage']);
const importPattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || (dir === root && skipped.has(entry.name))) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** `file: specifier` for every import in `source` that reaches past the front door. */
export function deepImports(file: string, source: string): string[] {
  const found: string[] = [];
  for (const [, spec] of source.matchAll(importPattern)) {
    if (!spec!.startsWith('.')) continue;
    const target = resolve(dirname(file), spec!);
    if (target.startsWith(engineDir + '/') && target !== frontDoor) found.push(`${relative(root, file)}: ${spec}`);
  }
  return found;
}

describe('the engine front door', () => {
  it('no file outside engine/ imports an engine module other than engine/index.ts', () => {
    const files = sourceFiles(root);
    expect(files.length).toBeGreaterThan(50); // the walk found the project
    const deep = files.flatMap((file) => deepImports(file, readFileSync(file, 'utf8')));
    expect(deep).toEqual([]);
  });

  it('the check itself catches each form of a deep import', () => {
    const file = join(root, 'api', 'example.ts');
    const deepPath = (path: string) => ['..', 'engine', path].join('/'); // built, so this file passes its own check
    expect(deepImports(file, `import { Holds } from '${deepPath('holds/holds.ts')}';`)).toHaveLength(1);
    expect(deepImports(file, `import type { X } from '${deepPath('redis/codes.ts')}';`)).toHaveLength(1);
    expect(deepImports(file, `export { Code } from '${deepPath('redis/codes.ts')}';`)).toHaveLength(1);
    expect(deepImports(file, `const m = await import('${deepPath('engine.ts')}');`)).toHaveLength(1);
    expect(deepImports(file, `import '${deepPath('log.ts')}';`)).toHaveLength(1);
    expect(deepImports(file, `import { Engine } from '${deepPath('index.ts')}';`)).toEqual([]);
    expect(deepImports(file, "import { x } from './engine/holds.ts';")).toEqual([]); // api/engine/ is not engine/
  });
});
