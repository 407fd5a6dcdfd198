/**
 * The canonical freight invoice and its validation.
 *
 * Each format reader (readers.ts) maps its input onto the same source shape: one master invoice with its shipment legs
 * and charge lines, values as the file wrote them (text), plus `source_format` and any `format_issues` the format
 * layer found (an X12 element that is not a CCYYMMDD date, a UBL amount that is not a decimal). Validation trims and
 * checks every field, converts it to the canonical record, and collects every issue of the invoice at once, each with
 * a code that names the reason the invoice is held under.
 */
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { FieldIssue, SourceFields, ValidationOutcome } from '../types.ts';
import { abs, formatCents, normalizeDecimal, parseDecimal, toCents } from './money.ts';

/** The formats freight reads; stored in the record so an auditor sees how each invoice arrived. */
export const FREIGHT_FORMATS = ['x12', 'xml', 'csv'] as const;
export type FreightFormat = (typeof FREIGHT_FORMATS)[number];

/** Validation reason codes, highest priority first: an invalid invoice is filed under the first that applies. */
export const VALIDATION_REASON_CODES = [
  'schema_violation',
  'invalid_scac',
  'missing_field',
  'invalid_date',
  'invalid_currency',
  'invalid_amount',
  'total_mismatch',
] as const;
export type ValidationReasonCode = (typeof VALIDATION_REASON_CODES)[number];

/**
 * Issue codes and the reason each files the invoice under. Besides this schema's own codes, the format layers'
 * codes are listed (X12 `missing_element`, UBL `not_decimal`, ...), so that a problem the reader found is filed under
 * the same reason as the same problem found here.
 */
const ISSUE_REASONS: Readonly<Record<string, ValidationReasonCode>> = {
  unknown_field: 'schema_violation',
  invalid_type: 'schema_violation',
  conflicting_value: 'schema_violation',
  duplicate_leg: 'schema_violation',
  unsupported_document: 'schema_violation',
  wrong_namespace: 'schema_violation',
  wrong_transaction_set: 'schema_violation',
  invalid_scac: 'invalid_scac',
  missing: 'missing_field',
  empty: 'missing_field',
  no_charges: 'missing_field',
  missing_element: 'missing_field',
  missing_segment: 'missing_field',
  invalid_date: 'invalid_date',
  not_date: 'invalid_date',
  invalid_currency: 'invalid_currency',
  currency_mismatch: 'invalid_currency',
  invalid_amount: 'invalid_amount',
  invalid_number: 'invalid_amount',
  not_decimal: 'invalid_amount',
  invalid_leg_no: 'invalid_amount',
  total_mismatch: 'total_mismatch',
  totals_mismatch: 'total_mismatch',
};

/** Standard Carrier Alpha Code: 2 to 4 upper-case letters (NMFTA). `odfl`, `OD1` and `ODFLX` are not SCACs. */
export const SCAC = /^[A-Z]{2,4}$/;

/** Largest difference between the sum of the charges and the invoice total that is still a match: one cent. */
export const TOTAL_TOLERANCE_CENTS = 1n;

/**
 * ISO 4217 currencies in circulation (funds, precious metals and test codes left out): an invoice in `XAU` or `ABC`
 * is held rather than compared with a contract in dollars. A fixed list, not `Intl`, so every machine agrees.
 */
export const ISO_4217 = new Set(
  (
    'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF ' +
    'CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD ' +
    'HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD ' +
    'MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN ' +
    'PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY ' +
    'TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG'
  ).split(' '),
);

type Ctx = z.core.$RefinementCtx;
const report = (ctx: Ctx, code: string, message: string): void => {
  ctx.addIssue({ code: 'custom', message, params: { code } });
};

const required = (field: string) =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (value === '') report(ctx, 'empty', `${field} is empty`);
    });

/** Optional text: absent, or blank after trimming, is left out of the canonical record. */
const optional = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const scac = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'scac is empty');
    else if (!SCAC.test(value)) report(ctx, 'invalid_scac', 'scac must be 2 to 4 upper-case letters (a SCAC)');
  });

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** A real calendar date written `YYYY-MM-DD` (2024-02-30 and 2024-2-5 are not). */
export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const invoiceDate = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'invoice_date is empty');
    else if (!isIsoDate(value)) report(ctx, 'invalid_date', 'invoice_date must be a calendar date YYYY-MM-DD');
  });

const currency = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'currency is empty');
    else if (!ISO_4217.has(value)) report(ctx, 'invalid_currency', 'currency must be an ISO 4217 code such as USD');
  });

/** A money amount: plain decimal with at most two decimals, stored as text with exactly two (`1500` -> `1500.00`). */
const money = (field: string) =>
  z
    .string()
    .trim()
    .transform((value, ctx) => {
      if (value === '') {
        report(ctx, 'empty', `${field} is empty`);
        return z.NEVER;
      }
      const d = parseDecimal(value);
      const cents = d && toCents(d);
      if (cents === undefined) {
        report(ctx, 'invalid_amount', `${field} must be a decimal amount with at most two decimals, such as 1250.00`);
        return z.NEVER;
      }
      return formatCents(cents);
    });

/** An optional quantity or rate: plain decimal, stored in its shortest form (`2.3500` -> `2.35`). */
const optionalDecimal = (field: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === '') return undefined;
      const d = parseDecimal(value);
      if (d === undefined) {
        report(ctx, 'invalid_amount', `${field} must be a plain decimal number`);
        return z.NEVER;
      }
      return normalizeDecimal(d);
    });

/** A 1-based sequence number, as a number or as digits (CSV and X12 give text). */
const sequenceNo = (field: string) =>
  z.union([z.number(), z.string()]).transform((value, ctx) => {
    const text = String(value).trim();
    if (text === '') {
      report(ctx, 'empty', `${field} is empty`);
      return z.NEVER;
    }
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
      report(ctx, 'invalid_leg_no', `${field} must be a whole number from 1`);
      return z.NEVER;
    }
    return n;
  });

const legSchema = z.strictObject({
  leg_no: sequenceNo('leg_no'),
  origin: required('origin'),
  destination: required('destination'),
});

const chargeSchema = z.strictObject({
  line_no: sequenceNo('line_no'),
  /** The carrier's charge code: `400` linehaul, `FUE` fuel surcharge, `LFT` liftgate, ... */
  charge_code: required('charge_code').transform((value) => value.toUpperCase()),
  description: optional,
  quantity: optionalDecimal('quantity'),
  rate: optionalDecimal('rate'),
  amount: money('amount'),
});

const formatIssue = z.object({
  path: z.string(),
  code: z.string(),
  message: z.string(),
  value: z.unknown().optional(),
  /** What the reader left at `path` (see `withFormatIssues`). */
  seen: z.unknown().optional(),
});

/** Source fields (text as read) in, canonical invoice out. Strict: an unknown field is a schema violation. */
export const freightSourceSchema = z.strictObject({
  source_format: z.enum(FREIGHT_FORMATS),
  scac,
  /** Kept as the carrier wrote it (trimmed): invoice numbers are the carrier's, case and all. */
  invoice_number: required('invoice_number'),
  invoice_date: invoiceDate,
  currency,
  shipment_id: optional,
  legs: z.array(legSchema).default([]),
  charges: z.array(chargeSchema).superRefine((charges, ctx) => {
    if (charges.length === 0) report(ctx, 'no_charges', 'the invoice has no charge lines');
  }),
  total: money('total'),
  /** Problems the format layer found while reading this invoice; each becomes a validation issue. */
  format_issues: z.array(formatIssue).optional(),
});

type Parsed = z.output<typeof freightSourceSchema>;
export type FreightCharge = Parsed['charges'][number];
export type FreightLeg = Parsed['legs'][number];

/** The canonical freight invoice, as committed to the ledger. Amounts are decimal text with two decimals. */
export type FreightInvoice = Omit<Parsed, 'format_issues'>;

/**
 * Attaches the format layer's issues to a reader's source fields, each with the value the reader left at its path.
 * Validation keeps an issue only while that value is unchanged: once a reviewer's amendment sets `invoice_date` (an
 * X12 date that was not CCYYMMDD, left out), the date is judged on what the reviewer wrote. Issues about the record as
 * a whole (`path` '') stay.
 */
export function withFormatIssues<F extends SourceFields>(fields: F, issues: readonly FieldIssue[]): F {
  if (issues.length === 0) return fields;
  const annotated = issues.map((issue) => {
    const seen = issue.path === '' ? undefined : valueAt(fields, parsePath(issue.path));
    return seen === undefined ? { ...issue } : { ...issue, seen };
  });
  return { ...fields, format_issues: annotated };
}

/** `charges[2].amount` -> `['charges', 2, 'amount']`. */
function parsePath(path: string): PropertyKey[] {
  const out: PropertyKey[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/** Format issues that still apply to these fields (see `withFormatIssues`), as plain field issues. */
function currentFormatIssues(fields: SourceFields): FieldIssue[] {
  if (!Array.isArray(fields.format_issues)) return [];
  const out: FieldIssue[] = [];
  for (const raw of fields.format_issues as Array<FieldIssue & { seen?: unknown }>) {
    if (typeof raw?.code !== 'string' || typeof raw.path !== 'string') continue;
    const { seen, ...issue } = raw;
    if (issue.path !== '' && !isDeepStrictEqual(valueAt(fields, parsePath(issue.path)), seen)) continue;
    out.push(issue);
  }
  return out;
}

/** `charges.2.amount` -> `charges[2].amount`. */
function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out === '' ? String(key) : `${out}.${String(key)}`),
    '',
  );
}

function valueAt(fields: unknown, path: readonly PropertyKey[]): unknown {
  let at: unknown = fields;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/**
 * The sum of the charge lines must equal the invoice total within one cent. Checked on the raw fields whenever the
 * amounts themselves are readable, so an invoice with a bad SCAC and a wrong total shows both problems.
 */
function totalIssue(fields: SourceFields): FieldIssue | undefined {
  const { charges, total } = fields;
  if (!Array.isArray(charges) || charges.length === 0 || typeof total !== 'string') return undefined;
  const totalCents = centsOf(total);
  if (totalCents === undefined) return undefined;
  let sum = 0n;
  for (const charge of charges) {
    const amount = (charge as Record<string, unknown> | null)?.amount;
    const cents = typeof amount === 'string' ? centsOf(amount) : undefined;
    if (cents === undefined) return undefined;
    sum += cents;
  }
  if (abs(sum - totalCents) <= TOTAL_TOLERANCE_CENTS) return undefined;
  return {
    path: 'total',
    code: 'total_mismatch',
    message: `the charge lines add up to ${formatCents(sum)} but the invoice total is ${formatCents(totalCents)} (difference ${formatCents(sum - totalCents)})`,
    value: total,
  };
}

const centsOf = (text: string): bigint | undefined => {
  const d = parseDecimal(text.trim());
  return d && toCents(d);
};

/** Validates one invoice: the canonical record, or every issue found and the reason code to file it under. */
export function validateFreight(fields: SourceFields): ValidationOutcome<FreightInvoice> {
  const result = freightSourceSchema.safeParse(fields);
  const formatIssues = currentFormatIssues(fields);
  const issues: FieldIssue[] = [...formatIssues];
  // A field the format layer already reported (an unreadable date it left out) is not reported again as missing.
  const reported = new Set(formatIssues.map((i) => i.path));

  if (!result.success) {
    for (const zi of result.error.issues) {
      if (zi.code === 'unrecognized_keys') {
        for (const key of zi.keys) {
          const path = pathText([...zi.path, key]);
          issues.push({
            path,
            code: 'unknown_field',
            message: `unknown field ${path}`,
            value: valueAt(fields, [...zi.path, key]),
          });
        }
        continue;
      }
      const path = pathText(zi.path);
      if (reported.has(path)) continue;
      const value = valueAt(fields, zi.path);
      // Besides our own custom issues, zod reports only type errors: an absent field, or a value of the wrong type.
      const code = zi.code === 'custom' ? String(zi.params?.code) : value === undefined ? 'missing' : 'invalid_type';
      const message = code === 'missing' ? `${path} is missing` : zi.message;
      issues.push(value === undefined ? { path, code, message } : { path, code, message, value });
    }
  }
  if (!reported.has('total')) {
    const total = totalIssue(fields);
    if (total) issues.push(total);
  }
  if (result.success && issues.length === 0) {
    const { format_issues: _none, ...record } = result.data;
    return { ok: true, record };
  }
  return { ok: false, reasonCode: reasonFor(issues), issues };
}

/** The reason an invoice with these issues is held under: the highest-priority reason of any issue. */
export function reasonFor(issues: readonly FieldIssue[]): ValidationReasonCode {
  const reasons = new Set(issues.map((issue) => ISSUE_REASONS[issue.code] ?? 'schema_violation'));
  return VALIDATION_REASON_CODES.find((r) => reasons.has(r)) ?? 'schema_violation';
}
