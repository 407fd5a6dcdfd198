/**
 * The canonical rebate claim line and its validation: the cheap, reference-free checks of the fast path (seed 002).
 * Everything that needs the promotion master (window, eligible SKU, per-unit cap, the accrual) is classification.
 *
 * Readers hand over text (CSV cells, XLSX cell texts) under the canonical column names; a reviewer's amendment may
 * give numbers. The schema trims, checks and canonicalizes, so that the same line written `120.5` in a spreadsheet
 * and ` 120.50 ` in a CSV becomes the same record, with the same idempotency key. All issues of a line are
 * collected, each with a specific code, so a reviewer sees everything wrong at once.
 */
import { z } from 'zod';
import type { FieldIssue, SourceFields, ValidationOutcome } from '../types.ts';
import { formatCents, toCents } from './accrual.ts';
import { flatRecordIssues } from '../flat-record-issues.ts';

/** The canonical columns, in the order files are written. The last two are optional. */
export const REBATE_COLUMNS = [
  'vendor_id',
  'claim_period',
  'sku',
  'quantity',
  'amount',
  'promotion_id',
  'claim_date',
  'line_ref',
] as const;
export type RebateColumn = (typeof REBATE_COLUMNS)[number];

/** Validation reason codes, highest priority first: a rejected line is filed under the first that applies. */
export const VALIDATION_REASON_CODES = [
  'schema_violation',
  'missing_field',
  'invalid_identifier',
  'invalid_period',
  'invalid_quantity',
  'invalid_amount',
  'invalid_date',
] as const;
export type ValidationReasonCode = (typeof VALIDATION_REASON_CODES)[number];

/**
 * Issue codes this schema reports. The field's own codes file the line under the field's reason (`quantity` ->
 * `invalid_quantity`); these generic ones under their own, whatever the field.
 */
const GENERIC_REASONS = {
  /** A column that is not one of the eight. */
  unknown_column: 'schema_violation',
  /** A value that is neither text nor (for quantity and amount) a number: only a programmatic caller sends one. */
  invalid_type: 'schema_violation',
  /** The column is absent. */
  missing: 'missing_field',
  /** The column is present but blank after trimming. */
  empty: 'missing_field',
  /** An identifier over 64 characters or with control characters (which could forge an idempotency key). */
  bad_identifier: 'invalid_identifier',
} as const satisfies Record<string, ValidationReasonCode>;

const FIELD_REASONS: Readonly<Record<string, ValidationReasonCode>> = {
  claim_period: 'invalid_period',
  quantity: 'invalid_quantity',
  amount: 'invalid_amount',
  claim_date: 'invalid_date',
};

/**
 * `invalid_period` (not `YYYY-MM`, month 01-12); quantity `not_integer`, `not_positive`, `too_large`; amount
 * `not_decimal`, `too_many_decimals`, `not_positive`, `too_large`; claim_date `invalid_date`, `date_outside_period`
 * (a real date, but not in the claim period's month).
 */
type FieldIssueCode =
  | 'invalid_period'
  | 'not_integer'
  | 'not_positive'
  | 'too_large'
  | 'not_decimal'
  | 'too_many_decimals'
  | 'invalid_date'
  | 'date_outside_period';
type IssueCode = keyof typeof GENERIC_REASONS | FieldIssueCode;

/** A claim line of more than a billion units is a typo, not a claim. */
export const MAX_QUANTITY = 1_000_000_000;
/** Ten billion per line: keeps cents (and cents x rate) far inside exact integer range. */
export const MAX_AMOUNT_CENTS = 1_000_000_000_000n;
export const MAX_IDENTIFIER_LENGTH = 64;

type Ctx = z.core.$RefinementCtx;
const report = (ctx: Ctx, code: IssueCode, message: string): void => {
  ctx.addIssue({ code: 'custom', message, params: { code } });
};

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const identifier = (field: string) =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (value === '') report(ctx, 'empty', `${field} is empty`);
      else if (value.length > MAX_IDENTIFIER_LENGTH || CONTROL.test(value)) {
        report(ctx, 'bad_identifier', `${field} must be at most ${MAX_IDENTIFIER_LENGTH} printable characters`);
      }
    });

/** Optional text: blank means absent, so the canonical record leaves the key out. */
const optionalIdentifier = (field: string) =>
  z
    .string()
    .trim()
    .optional()
    .superRefine((value, ctx) => {
      if (value !== undefined && (value.length > MAX_IDENTIFIER_LENGTH || CONTROL.test(value))) {
        report(ctx, 'bad_identifier', `${field} must be at most ${MAX_IDENTIFIER_LENGTH} printable characters`);
      }
    })
    .transform((value) => (value === '' ? undefined : value));

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;
const claimPeriod = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'claim_period is empty');
    else if (!PERIOD.test(value)) report(ctx, 'invalid_period', 'claim_period must be a month written YYYY-MM');
  });

/** Text, or a number from a programmatic caller (a reviewer's amendment `{"quantity": 12}`), as trimmed text. */
const numeric = z.union([z.string(), z.number()]).transform((v) => String(v).trim());

const DIGITS = /^\d+$/;
const SIGNED_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const quantity = numeric.transform((value, ctx) => {
  if (value === '') {
    report(ctx, 'empty', 'quantity is empty');
    return z.NEVER;
  }
  if (!DIGITS.test(value)) {
    // `-3` and `0.0` are not positive; `1.5`, `1e3`, `+4` and `12 units` are not plain whole numbers.
    if (SIGNED_NUMBER.test(value) && Number(value) <= 0) report(ctx, 'not_positive', 'quantity must be at least 1');
    else report(ctx, 'not_integer', 'quantity must be a whole number written as plain digits');
    return z.NEVER;
  }
  const n = Number(value);
  if (n === 0) {
    report(ctx, 'not_positive', 'quantity must be at least 1');
    return z.NEVER;
  }
  if (n > MAX_QUANTITY) {
    report(ctx, 'too_large', `quantity must be at most ${MAX_QUANTITY}`);
    return z.NEVER;
  }
  return n;
});

const DECIMAL = /^\d+(\.\d+)?$/;
const amount = numeric.transform((value, ctx) => {
  if (value === '') {
    report(ctx, 'empty', 'amount is empty');
    return z.NEVER;
  }
  if (!DECIMAL.test(value)) {
    if (SIGNED_NUMBER.test(value) && Number(value) <= 0) report(ctx, 'not_positive', 'amount must be above 0');
    else
      report(ctx, 'not_decimal', 'amount must be a decimal number such as 1234.50 (no sign, currency or separators)');
    return z.NEVER;
  }
  const cents = toCents(value);
  if (cents === undefined) {
    report(ctx, 'too_many_decimals', 'amount must have at most 2 decimals');
    return z.NEVER;
  }
  if (cents === 0n) {
    report(ctx, 'not_positive', 'amount must be above 0');
    return z.NEVER;
  }
  if (cents >= MAX_AMOUNT_CENTS) {
    report(ctx, 'too_large', `amount must be below ${formatCents(MAX_AMOUNT_CENTS)}`);
    return z.NEVER;
  }
  return formatCents(cents);
});

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeapYear = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
/** Days in a month of a year (month 1-12). */
export const daysInMonth = (year: number, month: number): number =>
  month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
/** A real calendar date written `YYYY-MM-DD` (so 2025-02-30 and 2025-2-5 are not). */
export const isIsoDate = (value: string): boolean => {
  const m = ISO_DATE.exec(value);
  if (m === null) return false;
  const month = Number(m[2]);
  const day = Number(m[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(Number(m[1]), month);
};

const claimDate = z
  .string()
  .trim()
  .optional()
  .superRefine((value, ctx) => {
    if (value !== undefined && value !== '' && !isIsoDate(value)) {
      report(ctx, 'invalid_date', 'claim_date must be a calendar date YYYY-MM-DD');
    }
  })
  .transform((value) => (value === '' ? undefined : value));

/**
 * Source fields in, canonical line out. Strict: a column outside the eight is a schema violation (a misspelt
 * header must not silently drop a value that the key or the accrual depends on).
 */
export const rebateLineSchema = z
  .strictObject({
    vendor_id: identifier('vendor_id'),
    claim_period: claimPeriod,
    sku: identifier('sku'),
    quantity,
    amount,
    promotion_id: identifier('promotion_id'),
    claim_date: claimDate,
    line_ref: optionalIdentifier('line_ref'),
  })
  .superRefine((line, ctx) => {
    // Only between two valid values: an invalid period or date has its own issue already.
    if (
      line.claim_date !== undefined &&
      PERIOD.test(line.claim_period) &&
      isIsoDate(line.claim_date) &&
      !line.claim_date.startsWith(`${line.claim_period}-`)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['claim_date'],
        message: `claim_date must fall in the claim period ${line.claim_period}`,
        params: { code: 'date_outside_period' satisfies IssueCode },
      });
    }
  });

/**
 * The canonical claim line: identifiers trimmed, `quantity` a whole number >= 1, `amount` a 2-decimal string above
 * zero, `claim_period` `YYYY-MM`; `claim_date` and `line_ref` absent when blank.
 */
export interface RebateClaimLine {
  vendor_id: string;
  claim_period: string;
  sku: string;
  quantity: number;
  amount: string;
  promotion_id: string;
  claim_date?: string;
  line_ref?: string;
}

/** Validates one claim line: the canonical line, or every issue found and the reason code to file it under. */
export function validateRebateLine(fields: SourceFields): ValidationOutcome<RebateClaimLine> {
  const result = rebateLineSchema.safeParse(fields);
  if (result.success) {
    const d = result.data;
    // Absent optional fields are left out rather than set to undefined, so the record equals its JSON form.
    const record: RebateClaimLine = {
      vendor_id: d.vendor_id,
      claim_period: d.claim_period,
      sku: d.sku,
      quantity: d.quantity,
      amount: d.amount,
      promotion_id: d.promotion_id,
    };
    if (d.claim_date !== undefined) record.claim_date = d.claim_date;
    if (d.line_ref !== undefined) record.line_ref = d.line_ref;
    return { ok: true, record };
  }

  const issues = flatRecordIssues(result.error, fields);
  return { ok: false, reasonCode: reasonFor(issues), issues };
}

function reasonFor(issues: FieldIssue[]): ValidationReasonCode {
  const reasons = new Set<ValidationReasonCode | undefined>(
    issues.map((issue) => GENERIC_REASONS[issue.code as keyof typeof GENERIC_REASONS] ?? FIELD_REASONS[issue.path]),
  );
  const reason = VALIDATION_REASON_CODES.find((r) => reasons.has(r));
  if (reason === undefined) throw new Error(`no reason code for issues ${JSON.stringify(issues)}`);
  return reason;
}
