import { contractLimits } from './config.ts';
import type { ApiRequest } from './http.ts';
import { problem, type Reply } from './problems.ts';

/** The Idempotency-Key header, checked: a problem reply when it is required and absent, or too long; '' when optional and absent. */
export function idempotencyKeyOf(req: ApiRequest, required: boolean): { key: string } | { reply: Reply } {
  const key = req.idempotencyKey;
  if (key === '') {
    return required ? { reply: problem('idempotency-key-required', 'send an Idempotency-Key header (at most 255 characters)') } : { key: '' };
  }
  if (key.length > contractLimits.idempotencyKeyLengthMax) {
    return { reply: problem('bad-request', `Idempotency-Key may be at most ${contractLimits.idempotencyKeyLengthMax} characters`) };
  }
  return { key };
}

/** Keys are scoped to the calling token and the kind of request: two storefronts' keys never meet. */
export const scopedKey = (req: ApiRequest, use: 'reserve' | 'confirm' | 'stock', key: string) => `${req.role}:${use}:${key}`;
