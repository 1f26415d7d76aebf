import { activateCartSpec } from './activateCart.ts';
import { adjustStockSpec } from './adjustStock.ts';
import { beginPaymentSpec } from './beginPayment.ts';
import { claimKeysSpec } from './claimKeys.ts';
import { commitHoldSpec } from './commitHold.ts';
import { confirmRecordSpec } from './confirmRecord.ts';
import { createProductSpec } from './createProduct.ts';
import { dueIdsSpec } from './dueIds.ts';
import { expireHoldsSpec } from './expireHolds.ts';
import { checkFenceSpec, liftFenceSpec, setFenceSpec } from './fence.ts';
import { forgetClaimSpec } from './forgetClaim.ts';
import { hitRateLimitSpec } from './hitRateLimit.ts';
import { parkEntriesSpec } from './parkEntries.ts';
import { purgeRecordsSpec } from './purgeRecords.ts';
import { readHoldSpec } from './readHold.ts';
import { recordRefundSpec } from './recordRefund.ts';
import { releaseHoldSpec } from './releaseHold.ts';
import { resetCountsSpec } from './resetCounts.ts';
import { restoreCartPartSpec } from './restoreCartPart.ts';
import { restoreOrderSpec } from './restoreOrder.ts';
import { reserveHoldsSpec } from './reserveHolds.ts';
import type { ScriptSpec } from './reply.ts';

/** One module per lua/<name>-<keys>.lua: its KEYS, ARGV and reply decoding (checked against the Lua headers by scripts.test.ts). */
export const scriptSpecs: readonly ScriptSpec[] = [
  activateCartSpec, adjustStockSpec, beginPaymentSpec, claimKeysSpec, commitHoldSpec, confirmRecordSpec, createProductSpec, dueIdsSpec,
  expireHoldsSpec, forgetClaimSpec, hitRateLimitSpec, parkEntriesSpec, purgeRecordsSpec, readHoldSpec, recordRefundSpec,
  releaseHoldSpec, reserveHoldsSpec, resetCountsSpec, restoreOrderSpec, restoreCartPartSpec, checkFenceSpec, setFenceSpec, liftFenceSpec,
];
