import { StockadeError } from '../../../common/errors.ts';
import type { EngineContext } from '../context.ts';

/** A script's reply as ioredis returns it: integers and strings, nested arrays for some scripts. */
export type Flat = (number | string)[];

/**
 * What each script module declares: the codes its script can answer (its Lua
 * header lists the same) and the decoder that turns a reply into values.
 * The decoder throws UNKNOWN_REPLY on any other code.
 */
export interface ScriptSpec {
  name: keyof EngineContext['scripts'];
  codes: readonly number[];
  decode: (reply: unknown) => unknown;
}

export function unknownReply(script: string, reply: unknown): never {
  throw new StockadeError('UNKNOWN_REPLY', `${script} replied ${JSON.stringify(reply)?.slice(0, 200)}, which its module does not know`);
}

/** The reply as a flat array, or UNKNOWN_REPLY. */
export function flat(script: string, reply: unknown): Flat {
  if (!Array.isArray(reply)) unknownReply(script, reply);
  return reply as Flat;
}
