import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';
import { StockadeError } from '../engine/index.ts';

/**
 * uWebSockets.js, checked: the package falls back silently to a slow pure-JS
 * server when its native module does not load. Stockade refuses to start then.
 */
export function loadUws(): typeof UWS {
  const uws = createRequire(import.meta.url)('uWebSockets.js') as typeof UWS;
  if (typeof uws.App !== 'function' || !Function.prototype.toString.call(uws.App).includes('[native code]')) {
    throw new StockadeError('SERVICE_FAILED',
      'uWebSockets.js did not load its native build (it fell back to a pure-JS server); reinstall with npm run setup on Node 20, glibc >= 2.36');
  }
  return uws;
}
