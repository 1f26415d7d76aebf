import { contractLimits } from './config.ts';
import type { ApiRequest } from './http.ts';
import { problem, type Reply } from './problems.ts';

/** The Idempotency-Key header checked: a problem reply when it is required and absent, or too long; null when it may pass. */
export function idempotencyKeyProblem(key: string, required: boolean): Reply | null {
  if (key === '') {
    return required ? problem('idempotency-key-required', 'send an Idempotency-Key header (at most 255 characters)') : null;
  }
  if (key.length > contractLimits.idempotencyKeyLengthMax) {
    return problem('bad-request', `Idempotency-Key may be at most ${contractLimits.idempotencyKeyLengthMax} characters`);
  }
  return null;
}

/** Keys are scoped to the calling token and the kind of request: two storefronts' keys never meet. */
export const scopedKey = (req: ApiRequest, use: 'reserve' | 'confirm' | 'stock', key: string) => `${req.role}:${use}:${key}`;
