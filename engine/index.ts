/**
 * The engine's front door: everything outside engine/ imports the engine from
 * here, and only from here (test/front-door.test.ts checks it). What is not
 * exported here is the engine's own business.
 */
export { Engine } from './engine.ts';
export { Checkout, type ConfirmOutcome, type ConfirmReply, type CheckoutStats } from './checkout/checkout.ts';
export {
  settledCharge, type ChargeRecord, type ChargeRequest, type ChargeResult, type PaymentProvider, type SettledCharge,
} from './checkout/payments.ts';
export { OverdueRecovery, type RecoveryReport } from './reconciler/overdue.ts';
export type { SweepReport } from './reconciler/sweeper.ts';
export type { SweepCounts, SweepStats } from './reconciler/sweep-stats.ts';
export { snapshotEntriesMax, type OverdueHold, type PartitionSnapshot } from './reconciler/audit.ts';
export { cartLayout, type RestoreOutcome } from './reconciler/lost-orders.ts';
export type { LostOrder } from './redis/scripts/restoreOrder.ts';
export type { ConfirmRecordReply, OrderPart } from './redis/scripts/confirmRecord.ts';
export type { NextCounts, ResetCountsReply } from './redis/scripts/resetCounts.ts';
export { engineSettings, engineSettingRows, type EngineSettings } from '../settings/views.ts';
export { StockadeError, type ErrorCode } from '../common/errors.ts';
export { lostReply, type FaultHooks } from './faults.ts';
export { createLogger, type Logger } from './log.ts';
export { fulfilsWithin } from './timing.ts';
export { partitionOf } from './redis/partition.ts';
export { isOrderId, randomText } from './holds/ids.ts';
export { partitionKeys, shardKeys, type PartitionKeys, type ShardKeys } from './redis/keys.ts';
export type { MemoryState } from './redis/memory.ts';
export type { ExpiredBy, HoldCounts } from './redis/hold-counts.ts';
export type { OutboxStreams } from './redis/outbox-streams.ts';
export {
  requireDecoded, type DecodedEntry, type OutboxEntry, type OutboxEvent, type UndecodableEntry,
} from './redis/outbox-events.ts';
export type { RateLimitHit } from './redis/scripts/hitRateLimit.ts';
export type { RefundNote } from './redis/scripts/recordRefund.ts';
export { listLimitMax } from './catalog/sku-index.ts';
export { emptyRecord, type FenceState, type LiftOutcome, type Mark, type RecordView } from './fencing/fencing.ts';
export type { PartitionContents, RecordSnapshot, ProductSnapshot, RebuiltPartition } from './fencing/rebuild.ts';
export { priceCentsMax, productNameLengthMax, skuPattern, stockUnitsMax, userIdLengthMax } from './validate.ts';
export type * from './types.ts';
export { keySlot } from './redis/slot.ts';
export { isRedisUnavailable } from './redis/failover-retry.ts';
