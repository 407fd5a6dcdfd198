/**
 * Business rules on a valid claim line, against the promotion master: hold the line for review, or accrue it at its
 * tier. This is the compute-heavy stage (the batch routes it to the `sluice-compute` task queue): it loads the
 * chunk's promotions in one query, then judges each line with integer arithmetic only.
 */
import { z } from 'zod';
import type { Classification, FieldIssue, ProfileContext, ReferenceLookup } from '../types.ts';
import { TIER_BASES, computeAccrual, formatCents, toCents } from './accrual.ts';
import type { Accrual } from './accrual.ts';
import { PROMOTIONS_KIND, toPromotion } from './reference.ts';
import type { Promotion } from './reference.ts';
import { daysInMonth } from './schema.ts';
import type { RebateClaimLine } from './schema.ts';

/** Hold reason codes, highest priority first: a held line is filed under the first that applies. */
export const HOLD_REASON_CODES = [
  'unknown_promotion',
  'outside_promotion_window',
  'ineligible_sku',
  'over_claim',
] as const;
export type HoldReasonCode = (typeof HOLD_REASON_CODES)[number];

/**
 * When a claim period counts as inside a promotion window:
 * - `overlap` (default): the period's month shares at least one day with the window (a promotion that starts on
 *   15 March accepts March claims);
 * - `within`: the whole month lies inside the window.
 * A line with a `claim_date` must also have that date inside the window, whichever rule.
 */
export const WINDOW_RULES = ['overlap', 'within'] as const;
export type WindowRule = (typeof WINDOW_RULES)[number];

/** `batch_config.profile_options` of the rebate profile. */
export const rebateOptionsSchema = z
  .object({
    /** How tiers apply to a line's quantity (accrual.ts). */
    tier_basis: z.enum(TIER_BASES).default('all_units'),
    window_rule: z.enum(WINDOW_RULES).default('overlap'),
  })
  .strict();
export type RebateOptions = z.output<typeof rebateOptionsSchema>;
export const DEFAULT_REBATE_OPTIONS: RebateOptions = { tier_basis: 'all_units', window_rule: 'overlap' };

/** What classifying a chunk needs: its promotions by id, and the batch's options. */
export interface RebatePrepared {
  promotions: ReadonlyMap<string, Promotion>;
  options: RebateOptions;
}

/** Loads the chunk's promotions in one query (`lookup.reference`), whatever the number of lines. */
export async function prepareRebateClassify(
  records: readonly RebateClaimLine[],
  lookup: ReferenceLookup,
  context: ProfileContext,
): Promise<RebatePrepared> {
  const ids = [...new Set(records.map((r) => r.promotion_id))];
  const found = await lookup.reference(PROMOTIONS_KIND, ids);
  const promotions = new Map<string, Promotion>();
  for (const [key, data] of found) promotions.set(key, toPromotion(key, data));
  return { promotions, options: rebateOptionsSchema.parse(context.options ?? {}) };
}

/** The judgement on one line: held with its issues, or accrued at a tier. */
export type ClaimAssessment =
  { hold: true; reasonCode: HoldReasonCode; issues: FieldIssue[] } | { hold: false; accrual: Accrual };

/**
 * Judges one line against its promotion. Every rule that fails is reported (a reviewer sees all of them); an
 * unknown promotion stops there, since the other rules need it. Pure: the same line, promotion and options always
 * give the same judgement and the same accrual, which is what lets a crashed chunk be classified again.
 */
export function assessClaim(
  line: RebateClaimLine,
  promotion: Promotion | undefined,
  options: RebateOptions = DEFAULT_REBATE_OPTIONS,
): ClaimAssessment {
  if (promotion === undefined) {
    return hold([
      {
        path: 'promotion_id',
        code: 'unknown_promotion',
        message: 'no promotion with this id in the promotion master',
        value: line.promotion_id,
      },
    ]);
  }
  if (promotion.vendor_id !== line.vendor_id) {
    // Another vendor's promotion is not one this vendor can claim: as good as unknown, with its own issue code.
    return hold([
      {
        path: 'promotion_id',
        code: 'other_vendor',
        message: `promotion ${promotion.promotion_id} belongs to vendor ${promotion.vendor_id}, not ${line.vendor_id}`,
        value: line.promotion_id,
      },
    ]);
  }
  const issues: FieldIssue[] = [];
  const window = `${promotion.start_date}..${promotion.end_date}`;
  if (!periodInWindow(line.claim_period, promotion, options.window_rule)) {
    issues.push({
      path: 'claim_period',
      code: 'outside_promotion_window',
      message: `claim period ${options.window_rule === 'within' ? 'is not within' : 'does not overlap'} the promotion window ${window}`,
      value: line.claim_period,
    });
  } else if (
    line.claim_date !== undefined &&
    (line.claim_date < promotion.start_date || line.claim_date > promotion.end_date)
  ) {
    issues.push({
      path: 'claim_date',
      code: 'outside_promotion_window',
      message: `claim date is outside the promotion window ${window}`,
      value: line.claim_date,
    });
  }
  if (promotion.eligibleSkus !== undefined && !promotion.eligibleSkus.has(line.sku)) {
    issues.push({
      path: 'sku',
      code: 'ineligible_sku',
      message: `SKU is not eligible for promotion ${promotion.promotion_id}`,
      value: line.sku,
    });
  }
  const amountCents = toCents(line.amount)!;
  if (promotion.maxCentsPerUnit !== undefined && amountCents > BigInt(line.quantity) * promotion.maxCentsPerUnit) {
    const allowed = formatCents(BigInt(line.quantity) * promotion.maxCentsPerUnit);
    issues.push({
      path: 'amount',
      code: 'over_claim',
      message: `amount is above the allowed ${allowed} (${line.quantity} x ${formatCents(promotion.maxCentsPerUnit)} per unit)`,
      value: line.amount,
    });
  }
  if (issues.length > 0) return hold(issues);
  return { hold: false, accrual: computeAccrual(amountCents, line.quantity, promotion.tiers, options.tier_basis) };
}

function hold(issues: FieldIssue[]): ClaimAssessment {
  const codes = new Set(issues.map((i) => (i.code === 'other_vendor' ? 'unknown_promotion' : i.code)));
  const reasonCode = HOLD_REASON_CODES.find((r) => codes.has(r))!;
  return { hold: true, reasonCode, issues };
}

/** Whether a `YYYY-MM` claim period counts as inside the promotion's window under `rule`. */
export function periodInWindow(
  period: string,
  promotion: Pick<Promotion, 'start_date' | 'end_date'>,
  rule: WindowRule,
) {
  const year = Number(period.slice(0, 4));
  const month = Number(period.slice(5, 7));
  const first = `${period}-01`;
  const last = `${period}-${String(daysInMonth(year, month)).padStart(2, '0')}`;
  return rule === 'within'
    ? first >= promotion.start_date && last <= promotion.end_date
    : first <= promotion.end_date && last >= promotion.start_date;
}

/** The label of an accrued line: its tier, e.g. `tier_2`. */
export const tierLabel = (accrual: Accrual): string => `tier_${accrual.tier}`;

/**
 * The profile's classify: a hold, or the tier label. The accrual is computed (by `assessClaim`) but cannot travel
 * with a label: the committed payload is the validated line, from which `assessClaim` and the promotion master give
 * the accrual back to the cent (docs/profiles/rebate.md, "Where the accrual goes").
 */
export function classifyRebate(
  line: RebateClaimLine,
  prepared: RebatePrepared | undefined,
  _context?: ProfileContext,
): Classification {
  if (prepared === undefined) throw new Error('rebate classification needs prepareClassify (the promotion master)');
  const assessed = assessClaim(line, prepared.promotions.get(line.promotion_id), prepared.options);
  return assessed.hold ? assessed : { hold: false, label: tierLabel(assessed.accrual) };
}
