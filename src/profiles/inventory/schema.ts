/**
 * The canonical lab inventory record (seed 004's `InventoryItem`) and its validation.
 *
 * Every source field is text from the manifest; the schema trims it, checks it and converts it to the canonical
 * record. Each check reports a specific issue code, and all issues of a record are collected (zod does not stop at
 * the first), so a reviewer sees everything wrong with a row at once.
 */
import { z } from 'zod';
import type { FieldIssue, ValidationOutcome, SourceFields } from '../types.ts';
import { flatRecordIssues } from '../flat-record-issues.ts';

/** Institutional grant prefixes (seed 004). Matched case-sensitively on the raw value, as the seed's validator does. */
export const GRANT_PREFIXES = ['NIH-', 'NSF-', 'DOE-', 'DOD-', 'EPA-'] as const;

/** Validation reason codes, highest priority first: a rejected record is filed under the first that applies. */
export const VALIDATION_REASON_CODES = [
  'schema_violation',
  'invalid_grant_code',
  'invalid_quantity',
  'invalid_date',
  'missing_field',
] as const;
export type ValidationReasonCode = (typeof VALIDATION_REASON_CODES)[number];

/** Issue codes this schema reports, and the reason code each one files the record under. */
const ISSUE_REASONS = {
  /** A column that is not one of the six (including `_extra_N` cells beyond the header). */
  unknown_column: 'schema_violation',
  invalid_prefix: 'invalid_grant_code',
  not_integer: 'invalid_quantity',
  negative: 'invalid_quantity',
  too_large: 'invalid_quantity',
  invalid_date: 'invalid_date',
  /** The column is absent (not in the header, or the row is short). */
  missing: 'missing_field',
  /** The column is present but blank after trimming. */
  empty: 'missing_field',
  /** A value that is not text: cannot come from a file, only from a programmatic caller. */
  invalid_type: 'schema_violation',
} as const satisfies Record<string, ValidationReasonCode>;
type IssueCode = keyof typeof ISSUE_REASONS;

type Ctx = z.core.$RefinementCtx;
const report = (ctx: Ctx, code: IssueCode, message: string): void => {
  ctx.addIssue({ code: 'custom', message, params: { code } });
};

const text = (field: string) =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (value === '') report(ctx, 'empty', `${field} is empty`);
    });

const grantCode = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'grant_code is empty');
    else if (!GRANT_PREFIXES.some((prefix) => value.startsWith(prefix))) {
      report(ctx, 'invalid_prefix', `grant_code must start with one of ${GRANT_PREFIXES.join(', ')}`);
    }
  })
  .transform((value) => value.toUpperCase());

const DIGITS = /^\d+$/;
const quantity = z
  .string()
  .trim()
  .transform((value, ctx) => {
    if (value === '') {
      report(ctx, 'empty', 'quantity is empty');
      return z.NEVER;
    }
    if (!DIGITS.test(value)) {
      // `-3` and `-1.5` are negative; `1.5`, `1e3`, `+4`, `0x10` and `abc` are not plain whole numbers.
      if (Number(value) < 0) report(ctx, 'negative', 'quantity must not be negative');
      else report(ctx, 'not_integer', 'quantity must be a whole number written as plain digits');
      return z.NEVER;
    }
    const n = Number(value);
    if (!Number.isSafeInteger(n)) {
      report(ctx, 'too_large', `quantity must be at most ${Number.MAX_SAFE_INTEGER}`);
      return z.NEVER;
    }
    return n;
  });

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
/** A real calendar date written `YYYY-MM-DD` (so 2023-02-30 and 2023-2-5 are rejected). */
const isIsoDate = (value: string): boolean => {
  const m = ISO_DATE.exec(value);
  if (m === null) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= (month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!);
};

const acquisitionDate = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'acquisition_date is empty');
    else if (!isIsoDate(value)) report(ctx, 'invalid_date', 'acquisition_date must be a calendar date YYYY-MM-DD');
  });

/**
 * Source fields (text) in, canonical record out. Strict: a column outside these six is a schema violation, as with
 * the seed's `extra="forbid"`.
 */
export const inventoryRecordSchema = z.strictObject({
  asset_id: text('asset_id'),
  /** Stored upper-cased: `NIH-r01-ab123` becomes `NIH-R01-AB123`. */
  grant_code: grantCode,
  category: text('category'),
  quantity,
  location: text('location'),
  acquisition_date: acquisitionDate,
});

/** `{ asset_id, grant_code, category, quantity: number, location, acquisition_date }`, all strings trimmed. */
export type InventoryRecord = z.output<typeof inventoryRecordSchema>;

/** Validates one source record: the canonical record, or every issue found and the reason code to file it under. */
export function validateInventory(fields: SourceFields): ValidationOutcome<InventoryRecord> {
  const result = inventoryRecordSchema.safeParse(fields);
  if (result.success) return { ok: true, record: result.data };

  const issues = flatRecordIssues(result.error, fields);
  return { ok: false, reasonCode: reasonFor(issues), issues };
}

function reasonFor(issues: FieldIssue[]): ValidationReasonCode {
  const reasons = new Set(issues.map((issue) => ISSUE_REASONS[issue.code as IssueCode]));
  const reason = VALIDATION_REASON_CODES.find((r) => reasons.has(r));
  if (reason === undefined) throw new Error(`no reason code for issues ${JSON.stringify(issues)}`);
  return reason;
}
