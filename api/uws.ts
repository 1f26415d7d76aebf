import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';
import { StockadeError } from '../engine/index.ts';

/**
 * Where the native build of uWebSockets.js (@based/uws 6.0.1, uWS 20.51) loads:
 * it ships one per Node ABI, and the Linux builds for Node 24 link a newer glibc.
 */
export const uwsSupport = 'Node 20.19+ or 22 with glibc >= 2.27, or Node 24 with glibc >= 2.38 (Linux x64/arm64, macOS, Windows x64)';

/**
 * uWebSockets.js, checked: Stockade refuses to start when its native module does
 * not load, saying which Node and glibc work. Never a silent fallback to a slow
 * pure-JS server (some builds of the package have one): an App that is not
 * native code is refused too.
 */
export function loadUws(): typeof UWS {
  let uws: typeof UWS;
  try {
    uws = createRequire(import.meta.url)('uWebSockets.js') as typeof UWS;
  } catch (error) {
    throw new StockadeError('SERVICE_FAILED', refusal(`its native build did not load (${lastLine(error)})`), { cause: error });
  }
  if (typeof uws.App !== 'function' || !Function.prototype.toString.call(uws.App).includes('[native code]')) {
    throw new StockadeError('SERVICE_FAILED', refusal('it fell back to a pure-JS server'));
  }
  return uws;
}

function refusal(what: string): string {
  const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  return `uWebSockets.js: ${what}. This is Node ${process.versions.node} (ABI ${process.versions.modules}) on ${process.platform}-${process.arch}`
    + `${glibc ? `, glibc ${glibc}` : ''}; it runs on ${uwsSupport}`;
}

/** The loader's own message names the Node versions of its builds first; the cause (a missing glibc symbol, a missing file) comes last. */
function lastLine(error: unknown): string {
  const lines = String((error as Error)?.message ?? error).split('\n').map((line) => line.trim()).filter(Boolean);
  return (lines.at(-1) ?? 'unknown error').replace(/^Error: /, '').replace(/\.$/, '').slice(0, 300);
}
