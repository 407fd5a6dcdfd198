/**
 * The promotion master (reference kind `promotions`): which vendor runs a promotion, when, on which SKUs, at what
 * tiered rates, and up to what amount per unit. Imported from a CSV file, one row per promotion:
 *
 *   promotion_id,vendor_id,start_date,end_date,eligible_skus,tiers,max_amount_per_unit
 *   PR-25-001,V-1001,2025-01-01,2025-06-30,SKU-10001;SKU-10002,0:0.02;1000:0.035;5000:0.05,12.50
 *
 * `eligible_skus` lists SKUs separated by semicolons (`*` for every SKU of the vendor), so one row is one
 * promotion and a master stays readable; `tiers` is `min_quantity:rate;...` (see accrual.ts); `max_amount_per_unit`
 * may be blank (no cap). A master is all or nothing: one bad row fails the import with the file and line, and the
 * promotions already loaded stay as they were.
 */
import { z } from 'zod';
import { readCsvRecords } from '../../formats/csv-rows.ts';
import { InputError } from '../types.ts';
import type { ReferenceEntry, ReferenceKind } from '../types.ts';
import { formatCents, formatTiers, parseTiers, toCents } from './accrual.ts';
import type { Tier } from './accrual.ts';
import { isIsoDate, MAX_IDENTIFIER_LENGTH } from './schema.ts';

export const PROMOTIONS_KIND = 'promotions';

export const PROMOTION_COLUMNS = [
  'promotion_id',
  'vendor_id',
  'start_date',
  'end_date',
  'eligible_skus',
  'tiers',
  'max_amount_per_unit',
] as const;
const REQUIRED_COLUMNS = PROMOTION_COLUMNS.slice(0, 6);
/** Columns a master may carry besides these: kept out of the entry, so notes never change a classification. */
const IGNORED_COLUMNS = new Set(['description', 'notes']);

/** A promotion as stored in the reference table (plain JSON). */
export interface PromotionData {
  promotion_id: string;
  vendor_id: string;
  /** First and last day of the window, inclusive, `YYYY-MM-DD`. */
  start_date: string;
  end_date: string;
  /** Eligible SKUs, or `*` for all. */
  eligible_skus: string[] | '*';
  /** Canonical tier schedule, e.g. `0:0.02;1000:0.035;5000:0.05`. */
  tiers: string;
  /** Highest claimable amount per unit as a 2-decimal string, or null for no cap. */
  max_amount_per_unit: string | null;
}

/** A promotion ready for classification. */
export interface Promotion extends Omit<PromotionData, 'eligible_skus' | 'tiers' | 'max_amount_per_unit'> {
  /** Undefined: every SKU is eligible. */
  eligibleSkus: ReadonlySet<string> | undefined;
  tiers: Tier[];
  maxCentsPerUnit: bigint | undefined;
}

// eslint-disable-next-line no-control-regex
const ID = /^[^\u0000-\u001f\u007f]+$/;

/** Checks one master row; returns the promotion as stored, or what is wrong with it. */
export function parsePromotionRow(fields: Record<string, string>): { data: PromotionData } | { errors: string[] } {
  const errors: string[] = [];
  const get = (name: string): string => (fields[name] ?? '').trim();
  const id = (name: string): string => {
    const value = get(name);
    if (value === '') errors.push(`${name} is empty`);
    else if (value.length > MAX_IDENTIFIER_LENGTH || !ID.test(value)) errors.push(`${name} is not an identifier`);
    return value;
  };
  const promotionId = id('promotion_id');
  const vendorId = id('vendor_id');
  const start = get('start_date');
  const end = get('end_date');
  if (!isIsoDate(start)) errors.push(`start_date ${JSON.stringify(start)} is not a date YYYY-MM-DD`);
  if (!isIsoDate(end)) errors.push(`end_date ${JSON.stringify(end)} is not a date YYYY-MM-DD`);
  if (isIsoDate(start) && isIsoDate(end) && end < start) errors.push(`end_date ${end} is before start_date ${start}`);

  const skuText = get('eligible_skus');
  let eligible: string[] | '*' = '*';
  if (skuText !== '*') {
    eligible = [...new Set(skuText.split(';').map((s) => s.trim()))];
    if (eligible.length === 0 || eligible.includes('')) {
      errors.push('eligible_skus must list SKUs separated by semicolons (or be * for every SKU)');
    }
  }

  const parsedTiers = parseTiers(get('tiers'));
  if ('error' in parsedTiers) errors.push(`tiers: ${parsedTiers.error}`);

  const maxText = get('max_amount_per_unit');
  let max: string | null = null;
  if (maxText !== '') {
    const cents = toCents(maxText);
    if (cents === undefined || cents === 0n) {
      errors.push(`max_amount_per_unit ${JSON.stringify(maxText)} must be an amount above 0 with at most 2 decimals`);
    } else max = formatCents(cents);
  }

  if (errors.length > 0 || 'error' in parsedTiers) return { errors };
  return {
    data: {
      promotion_id: promotionId,
      vendor_id: vendorId,
      start_date: start,
      end_date: end,
      eligible_skus: eligible,
      tiers: formatTiers(parsedTiers.tiers),
      max_amount_per_unit: max,
    },
  };
}

/** What the table holds, checked again on the way out: an entry written by another version must not misclassify. */
const storedPromotion = z.object({
  promotion_id: z.string(),
  vendor_id: z.string(),
  start_date: z.string(),
  end_date: z.string(),
  eligible_skus: z.union([z.literal('*'), z.array(z.string())]),
  tiers: z.string(),
  max_amount_per_unit: z.string().nullable(),
});

/** A stored entry as a promotion to classify against; throws (naming the promotion) if the entry is damaged. */
export function toPromotion(key: string, stored: unknown): Promotion {
  const checked = storedPromotion.safeParse(stored);
  const tiers = checked.success ? parseTiers(checked.data.tiers) : undefined;
  if (!checked.success || tiers === undefined || 'error' in tiers) {
    throw new Error(`promotion ${key} in the reference data is damaged; import the promotion master again`);
  }
  const { eligible_skus, max_amount_per_unit, tiers: _text, ...rest } = checked.data;
  return {
    ...rest,
    eligibleSkus: eligible_skus === '*' ? undefined : new Set(eligible_skus),
    tiers: tiers.tiers,
    maxCentsPerUnit: max_amount_per_unit === null ? undefined : toCents(max_amount_per_unit),
  };
}

/** Reads a promotion master CSV; throws `InputError` with the file and line for a bad header or row. */
export async function* readPromotionMaster(file: string, fileName: string): AsyncGenerator<ReferenceEntry> {
  const seen = new Map<string, number>();
  let checkedHeader = false;
  for await (const row of readCsvRecords(file, fileName, {})) {
    if (!checkedHeader) {
      checkedHeader = true;
      const columns = Object.keys(row.fields);
      const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
      const unknown = columns.filter(
        (c) => !(PROMOTION_COLUMNS as readonly string[]).includes(c) && !IGNORED_COLUMNS.has(c),
      );
      if (missing.length > 0 || unknown.length > 0) {
        throw new InputError(
          `${fileName}: the promotion master's header must have the columns ${PROMOTION_COLUMNS.join(', ')}` +
            (missing.length > 0 ? `; missing: ${missing.join(', ')}` : '') +
            (unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''),
          { file: fileName, line: 1 },
          'schema_violation',
        );
      }
    }
    const parsed = parsePromotionRow(row.fields);
    const location = { file: fileName, line: row.line, position: row.position };
    if ('errors' in parsed) {
      throw new InputError(`${fileName}: ${row.position}: ${parsed.errors.join('; ')}`, location, 'schema_violation');
    }
    const earlier = seen.get(parsed.data.promotion_id);
    if (earlier !== undefined) {
      throw new InputError(
        `${fileName}: ${row.position}: promotion ${parsed.data.promotion_id} is listed twice (first at line ${earlier})`,
        location,
        'schema_violation',
      );
    }
    seen.set(parsed.data.promotion_id, row.line);
    yield { key: parsed.data.promotion_id, data: parsed.data };
  }
}

export const promotionsReference: ReferenceKind = {
  description:
    'promotion master CSV (rebate): promotion_id, vendor_id, start_date, end_date, eligible_skus (a;b or *), ' +
    'tiers (0:0.02;1000:0.035), max_amount_per_unit',
  read: readPromotionMaster,
};
