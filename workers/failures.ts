/** What a failed write-through write is: worth parking if it keeps failing, or only worth retrying. */
export type FailureKind = 'permanent' | 'transient';

/** SQLSTATE classes no retry fixes: 22 data exception, 23 integrity violation, 42 syntax or access rule, 54 program limit. */
const permanentSqlStateClasses = new Set(['22', '23', '42', '54']);
/** postgres.js and Stockade codes no retry fixes. */
/** FENCED: an event of a Redis that went back in time (store/writes.ts): parked for repair, never written. */
const permanentCodes = new Set(['MAX_PARAMETERS_EXCEEDED', 'OUTBOX_UNDECODABLE', 'FENCED']);
const sqlStatePattern = /^[0-9A-Z]{5}$/;
/** A reason is stored with each parked entry and logged: bounded. */
export const failureReasonLengthMax = 500;

/**
 * Whether a failed write-through write can succeed if retried as it is.
 * Permanent only where the error says so; everything else is transient
 * (retried with backoff for ever, never parked): connection errors
 * (ECONNREFUSED, ECONNRESET, postgres.js CONNECTION_CLOSED/ENDED/DESTROYED,
 * CONNECT_TIMEOUT), SQLSTATE classes 08 (connection), 40 (serialization,
 * deadlock), 53 (insufficient resources), 57 (operator intervention: a
 * statement timeout, a shutdown, a starting server), Redis errors and anything
 * not known here.
 */
export function failureKind(error: unknown): FailureKind {
  const code = codeOf(error);
  if (permanentCodes.has(code)) return 'permanent';
  if (sqlStatePattern.test(code) && permanentSqlStateClasses.has(code.slice(0, 2))) return 'permanent';
  return 'transient';
}

export const isPermanent = (error: unknown): boolean => failureKind(error) === 'permanent';

/** `<code> <message> (<PostgreSQL's detail>)`, for the parked entry and the log line. */
export function failureReason(error: unknown): string {
  const e = error as { message?: unknown; detail?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  const detail = typeof e?.detail === 'string' && e.detail ? ` (${e.detail})` : '';
  return `${codeOf(error) || 'ERROR'} ${message}${detail}`.slice(0, failureReasonLengthMax);
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
