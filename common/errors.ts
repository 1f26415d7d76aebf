/** Infrastructure failures and programmer errors. Business outcomes are values, never these. */
export type ErrorCode =
  | 'REDIS_UNAVAILABLE'
  | 'OVERLOADED'
  | 'INVALID_SETTING'
  | 'SERVICE_FAILED'
  /** What a start needs is taken: the API's port, or the data directory (by a running Stockade). */
  | 'IN_USE'
  | 'OUTBOX_UNDECODABLE'
  /** A partition whose Redis may be behind PostgreSQL grants nothing until the stores agree (DESIGN.md §3). */
  | 'FENCED'
  /** A script replied a code its module does not know (a script and its module out of step). */
  | 'UNKNOWN_REPLY'
  | 'ASSERTION';

export class StockadeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StockadeError';
    this.code = code;
  }
}
