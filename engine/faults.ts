/**
 * Fault injection for tests: off unless a test passes hooks to Engine.create.
 * Nothing in the runtime sets them and no setting or request reaches them.
 */
export interface FaultHooks {
  /** Runs before a script call is sent. Throwing fails the call before it ran (Redis away). */
  beforeScript?: (name: string, args: readonly (string | number)[]) => void;
  /**
   * Runs after a script call returned from Redis. Throwing drops the reply: the
   * script ran, but the caller sees the error (a connection lost mid-reply);
   * returning a promise holds the reply back until it settles (a slow network).
   */
  afterScript?: (name: string, args: readonly (string | number)[]) => void | Promise<void>;
}

/** An error shaped as ioredis reports a connection lost while a reply was due. */
export function lostReply(what: string): Error {
  return Object.assign(new Error(`Connection is closed (fault: ${what} ran, its reply was dropped)`), { code: 'ECONNRESET' });
}
