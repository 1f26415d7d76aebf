#!/usr/bin/env node
// Compiles the `stockade` command (cli/main.ts and everything it imports) into
// dist/ with esbuild: one bundle, each command a chunk loaded when it runs, npm
// packages left to node_modules. bin/stockade.mjs runs dist/ when dist/build.json
// says it was built from the sources as they are now, and the TypeScript sources
// through tsx otherwise (missing or stale), so an edit is never run stale.
//
//   node bin/build.mjs           build when dist/ is missing or stale (what npm start and npm test run)
//   node bin/build.mjs --force   build
//   node bin/build.mjs --soft    as the first, but a failed build only warns (npm's prepare: the command still runs from source)
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const distDir = join(root, 'dist');
const manifestName = 'build.json';
/** Read by the build but not imported: a change to them makes dist/ stale too. */
const configInputs = ['bin/build.mjs', 'tsconfig.json'];

/** A file's identity for staleness: an edit, a checkout or a copy changes one of these. */
function stamp(path) {
  const s = statSync(path);
  return [s.mtimeMs, s.size];
}

/** dist/'s entry module when dist/ was built from the files as they are now; null when it is missing or stale. */
export function freshEntry() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(distDir, manifestName), 'utf8'));
    for (const [file, [mtimeMs, size]] of Object.entries(manifest.inputs)) {
      const [m, s] = stamp(join(root, file));
      if (m !== mtimeMs || s !== size) return null;
    }
  } catch {
    return null;
  }
  return join(distDir, manifest.entry);
}

/**
 * Loads the project's TypeScript files, noting each one's stamp as read, and
 * points `import.meta.url` at the source file (the Lua scripts and migrations are
 * found relative to it), whichever chunk of dist/ the code lands in.
 */
function sourcesPlugin(inputs) {
  return {
    name: 'stockade-sources',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const file = relative(root, args.path).split(sep).join('/');
        inputs[file] = stamp(args.path);
        let contents = readFileSync(args.path, 'utf8');
        if (/import\.meta\.(dirname|filename)/.test(contents)) {
          throw new Error(`${file}: use import.meta.url (import.meta.dirname and .filename would name dist/, not the source)`);
        }
        contents = contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(`../${file}`)}, import.meta.url).href`);
        return { contents, loader: 'ts' };
      });
    },
  };
}

export async function build() {
  const esbuild = await import('esbuild');
  const inputs = {};
  for (const file of configInputs) inputs[file] = stamp(join(root, file));
  // Built beside dist/ at the same depth (the import.meta.url rewrite counts on it), then swapped in.
  const out = mkdtempSync(join(root, '.dist-build-'));
  try {
    const result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: { main: 'cli/main.ts' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      keepNames: true,
      sourcemap: 'linked',
      outdir: out,
      entryNames: '[name]',
      chunkNames: '[name]-[hash]',
      metafile: true,
      logLevel: 'warning',
      plugins: [sourcesPlugin(inputs)],
    });
    for (const file of Object.keys(result.metafile.inputs)) inputs[file] ??= stamp(join(root, file));
    writeFileSync(join(out, manifestName), `${JSON.stringify({ entry: 'main.js', inputs }, null, 1)}\n`);
    chmodSync(out, 0o755);
    rmSync(distDir, { recursive: true, force: true });
    renameSync(out, distDir);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = new Set(process.argv.slice(2));
  if (args.has('--force') || !freshEntry()) {
    try {
      await build();
    } catch (error) {
      if (!args.has('--soft')) throw error;
      process.stderr.write(`stockade: building dist/ failed; the command runs from the TypeScript sources instead (${error.message})\n`);
    }
  }
}
