import { StockadeError } from './errors.ts';

/** One row per setting: the defaults table the README documents. */
interface SettingRow {
  env: string;
  default: number | string;
  min?: number;
  max?: number;
  doc: string;
}

export const engineSettingRows = {
  partitions: { env: 'STOCKADE_PARTITIONS', default: 64, min: 1, max: 4096, doc: 'stock partitions (hash slots); fixed at install' },
  keyShards: { env: 'STOCKADE_KEY_SHARDS', default: 1, min: 1, max: 1024, doc: 'shards of the idempotency-key index (one script call per shard per event-loop turn: 1 on a single Redis, more to spread keys over a Cluster)' },
  keyPrefix: { env: 'STOCKADE_KEY_PREFIX', default: 'stk:', doc: 'prefix of every Redis key' },
  holdTtlMsDefault: { env: 'STOCKADE_HOLD_TTL_MS_DEFAULT', default: 600_000, min: 1, doc: 'hold TTL when a request names none' },
  holdTtlMsMin: { env: 'STOCKADE_HOLD_TTL_MS_MIN', default: 1_000, min: 1, doc: 'smallest ttl_ms accepted' },
  holdTtlMsMax: { env: 'STOCKADE_HOLD_TTL_MS_MAX', default: 3_600_000, min: 1, doc: 'largest ttl_ms accepted' },
  paymentWindowMs: { env: 'STOCKADE_PAYMENT_WINDOW_MS', default: 120_000, min: 1_000, doc: 'deadline of a hold once payment begins' },
  voidRecheckMs: { env: 'STOCKADE_VOID_RECHECK_MS', default: 300_000, min: 1_000, doc: 'how long after voiding an overdue payment the recovery asks the provider again (a capture a provider let through despite the void is refunded then)' },
  batchSizeMax: { env: 'STOCKADE_BATCH_SIZE_MAX', default: 128, min: 1, max: 1024, doc: 'requests per script call (group commit)' },
  inflightMax: { env: 'STOCKADE_INFLIGHT_MAX', default: 20_000, min: 1, doc: 'batched requests queued or in flight before OVERLOADED' },
  reclaimWorkMax: { env: 'STOCKADE_RECLAIM_WORK_MAX', default: 256, min: 0, max: 100_000, doc: 'work (a hold record read or a line moved each) a reserve call spends first on expiring due holds of any SKU' },
  reclaimSkuWorkMax: { env: 'STOCKADE_RECLAIM_SKU_WORK_MAX', default: 2_048, min: 1, max: 100_000, doc: 'work a reserve call spends on expiring due holds of the SKUs it is short of before refusing (past it, the request is sent again)' },
  expireWorkMax: { env: 'STOCKADE_EXPIRE_WORK_MAX', default: 10_000, min: 1, max: 1_000_000, doc: 'work (a hold record read or a line moved each) one sweep step spends expiring due holds' },
  purgeGroupsMax: { env: 'STOCKADE_PURGE_GROUPS_MAX', default: 32, min: 1, max: 1024, doc: 'record groups past retention one purge step deletes' },
  idempotencyRetentionMs: { env: 'STOCKADE_IDEMPOTENCY_RETENTION_MS', default: 86_400_000, min: 1_000, doc: 'how long an Idempotency-Key is remembered' },
  cartLinesMax: { env: 'STOCKADE_CART_LINES_MAX', default: 20, min: 1, max: 100, doc: 'lines in one reservation' },
  qtyMax: { env: 'STOCKADE_QTY_MAX', default: 1000, min: 1, doc: 'units in one line' },
  outboxLengthMax: { env: 'STOCKADE_OUTBOX_LENGTH_MAX', default: 100_000, min: 1, doc: 'outbox entries per partition past which new holds are refused (503) until write-through catches up' },
  sweepIntervalMs: { env: 'STOCKADE_SWEEP_INTERVAL_MS', default: 1_000, min: 10, doc: 'how often the sweeper expires due holds and purges old records' },
  memoryHighWatermarkPct: { env: 'STOCKADE_MEMORY_HIGH_WATERMARK_PCT', default: 85, min: 1, max: 100, doc: 'share of Redis maxmemory past which new holds and idempotency claims are refused (503 overloaded); the rest is headroom for confirms, commits, releases and expiries' },
  memoryCheckMs: { env: 'STOCKADE_MEMORY_CHECK_MS', default: 100, min: 10, max: 60_000, doc: 'how often the engine reads Redis memory (INFO memory), at most' },
  cartReplayWaitMs: { env: 'STOCKADE_CART_REPLAY_WAIT_MS', default: 2_000, min: 0, doc: 'how long a replay waits for a multi-partition cart in progress' },
} satisfies Record<string, SettingRow>;

type Rows = typeof engineSettingRows;
export type EngineSettings = { [K in keyof Rows]: Rows[K]['default'] extends number ? number : string };

/** Settings from the environment over the defaults; a bad value stops the start with a clear message. */
export function engineSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<EngineSettings> = {}): EngineSettings {
  const out: Record<string, number | string> = {};
  for (const [name, row] of Object.entries(engineSettingRows) as [string, SettingRow][]) {
    const raw = env[row.env];
    out[name] = raw === undefined || raw === '' ? row.default : parseSetting(row, raw);
  }
  const settings = { ...(out as EngineSettings), ...overrides };
  checkSettings(settings);
  return settings;
}

function parseSetting(row: SettingRow, raw: string): number | string {
  if (typeof row.default === 'string') return raw;
  return intSetting(row.env, raw, row.min, row.max);
}

/** An integer setting's value, or INVALID_SETTING naming the variable. */
export function intSetting(name: string, raw: string, min?: number, max?: number): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || (min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw new StockadeError('INVALID_SETTING', `${name}=${raw} is not an integer in [${min ?? '-inf'}, ${max ?? 'inf'}]`);
  }
  return value;
}

function checkSettings(s: EngineSettings): void {
  if (!(s.holdTtlMsMin <= s.holdTtlMsDefault && s.holdTtlMsDefault <= s.holdTtlMsMax)) {
    throw new StockadeError('INVALID_SETTING', 'hold TTLs must satisfy min <= default <= max');
  }
}
