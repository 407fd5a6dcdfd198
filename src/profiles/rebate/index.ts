/**
 * Vendor rebate claim lines (seed 002), from CSV or XLSX: cheap checks on the fast path (validation), the promotion
 * master and the tiered accrual on the compute queue (classification), commits on the rate-limited commit queue.
 * One record is one claim line; a line is committed once per vendor, claim period and line content, whatever file
 * or format it arrives in.
 */
import { createHash } from 'node:crypto';
import { TASK_QUEUE } from '../../shared/task-queues.ts';
import type { Profile } from '../types.ts';
import { HOLD_REASON_CODES, classifyRebate, prepareRebateClassify, rebateOptionsSchema } from './classify.ts';
import type { RebatePrepared } from './classify.ts';
import { rebateGenerator } from './generator.ts';
import { REBATE_INPUT_FORMATS, rebateInput } from './readers.ts';
import { PROMOTIONS_KIND, promotionsReference } from './reference.ts';
import { VALIDATION_REASON_CODES, validateRebateLine } from './schema.ts';
import type { RebateClaimLine } from './schema.ts';

export type { RebateClaimLine } from './schema.ts';

/** Every reason code a claim line can be quarantined with: validation reasons, then hold reasons. */
export const REBATE_REASON_CODES = [...VALIDATION_REASON_CODES, ...HOLD_REASON_CODES] as const;

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
/** Unit separator: no validated field can contain it (identifiers refuse control characters). */
const US = '\u001f';

/**
 * Hex SHA-256 of the line's content: `sku US quantity US amount US promotion_id US line_ref`, with the canonical
 * values (quantity in plain digits, amount with 2 decimals, a missing line_ref as empty text). The claim date is
 * not content: a vendor re-sending a line with a corrected date is claiming the same line.
 */
export function rebateLineHash(line: RebateClaimLine): string {
  return sha256([line.sku, String(line.quantity), line.amount, line.promotion_id, line.line_ref ?? ''].join(US));
}

/** Seed 002's key: hex SHA-256 of `rebate US vendor_id US claim_period US line hash`. */
export const rebateIdempotencyKey = (line: RebateClaimLine): string =>
  sha256(['rebate', line.vendor_id, line.claim_period, rebateLineHash(line)].join(US));

/** `vendor/period/line_ref`, or `vendor/period/#<first 12 hex of the line hash>` for a line without a reference. */
export const rebateBusinessKey = (line: RebateClaimLine): string =>
  `${line.vendor_id}/${line.claim_period}/${line.line_ref ?? `#${rebateLineHash(line).slice(0, 12)}`}`;

export const rebateProfile: Profile<RebateClaimLine, RebatePrepared> = {
  id: 'rebate',
  title: 'Vendor rebate claim lines',
  formats: REBATE_INPUT_FORMATS,
  defaultConfig: {
    // Claim lines are ~90 bytes; 5,000 a chunk keeps orchestration small next to the data work (500,000 lines are
    // 100 chunks), and one promotion query per chunk.
    max_chunk_size: 5000,
    // Accruals on the compute queue (a regular activity, so heavy work cannot starve the fast path), commits on the
    // queue whose workers rate-limit them (`sluice worker --commits-per-second N`).
    task_queues: { classify: TASK_QUEUE.compute, commit: TASK_QUEUE.commit },
    profile_options: { tier_basis: 'all_units', window_rule: 'overlap' },
  },
  optionsSchema: rebateOptionsSchema,
  references: { [PROMOTIONS_KIND]: promotionsReference },
  ...rebateInput(),
  validate: validateRebateLine,
  prepareClassify: prepareRebateClassify,
  classify: classifyRebate,
  idempotencyKey: rebateIdempotencyKey,
  businessKey: rebateBusinessKey,
  generator: rebateGenerator,
};
