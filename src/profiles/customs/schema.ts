/**
 * The canonical customs commercial invoice (seed 001) and its validation: one record is one invoice with its lines
 * and, when there is one, its packing list.
 *
 * Readers of every format (JSON, NDJSON, UBL XML, CSV) hand over the same source shape (`CustomsSource`): the
 * canonical field names with values as the document wrote them, text in the document's locale or JSON numbers.
 * Validation first checks that shape with zod (unknown fields and wrong types are schema violations), then parses
 * every number and date in the record's locale, checks the code lists, and reconciles the totals exactly. All issues
 * of a record are collected, so a reviewer sees everything wrong with an invoice at once.
 */
import { z } from 'zod';
import type { FieldIssue, ProfileContext, SourceFields, ValidationOutcome } from '../types.ts';
import { COUNTRY_CODES, CURRENCY_CODES, INCOTERMS_2020, RETIRED_INCOTERMS, isIncoterm } from './codes.ts';
import type { Incoterm } from './codes.ts';
import type { Decimal } from './decimal.ts';
import { abs, add, compare, decimal, format, mul, sign, sub } from './decimal.ts';
import { LOCALES, isLocale, parseDate, parseNumber } from './locale.ts';
import type { Locale } from './locale.ts';

/** Validation reason codes, highest priority first: a rejected invoice is filed under the first that applies. */
export const VALIDATION_REASON_CODES = [
  'schema_violation',
  'missing_field',
  'locale_number',
  'invalid_date',
  'invalid_amount',
  'invalid_incoterm',
  'invalid_currency',
  'invalid_country',
  'invalid_hs_code',
  'total_mismatch',
  'weight_inconsistent',
  'package_count_mismatch',
] as const;
export type ValidationReasonCode = (typeof VALIDATION_REASON_CODES)[number];

/** Issue codes this schema reports, and the reason code each one files the invoice under. */
const ISSUE_REASONS = {
  /** A field that is not part of the source shape (a misspelt or unexpected key, an unknown CSV column). */
  unknown_field: 'schema_violation',
  /** A value of the wrong JSON type (an object where text belongs, lines that are not a list). */
  invalid_type: 'schema_violation',
  /** The record's `locale` is not one this profile reads. */
  unknown_locale: 'schema_violation',
  /** A line number that is not a whole number from 1, or appears twice on the invoice. */
  invalid_line_no: 'schema_violation',
  /** A packing-list line naming a line number the invoice does not have. */
  unknown_line: 'schema_violation',
  /** An OCR confidence outside 0..1. */
  out_of_range: 'schema_violation',
  missing: 'missing_field',
  empty: 'missing_field',
  not_a_number: 'locale_number',
  invalid_date: 'invalid_date',
  not_positive: 'invalid_amount',
  negative: 'invalid_amount',
  not_integer: 'invalid_amount',
  invalid_incoterm: 'invalid_incoterm',
  invalid_currency: 'invalid_currency',
  invalid_country: 'invalid_country',
  invalid_hs_code: 'invalid_hs_code',
  line_total_mismatch: 'total_mismatch',
  total_mismatch: 'total_mismatch',
  gross_below_net: 'weight_inconsistent',
  package_count_mismatch: 'package_count_mismatch',
} as const satisfies Record<string, ValidationReasonCode>;
export type IssueCode = keyof typeof ISSUE_REASONS;

// ---------------------------------------------------------------------------------------------------------------
// Options

const tolerance = z
  .union([z.number().nonnegative(), z.string().regex(/^\d+(?:\.\d+)?$/, 'must be a decimal such as 0.01')])
  .transform((v) => String(v))
  .refine((v) => /^\d+(?:\.\d+)?$/.test(v), 'must be a plain decimal such as 0.01');

/** `batch_config.profile_options` of a customs batch. */
export const customsOptionsSchema = z.strictObject({
  /** How numbers and dates are written when a document does not say (its `locale` field). */
  locale: z.enum(LOCALES).default('en-US'),
  /** Largest difference, in the invoice currency, between stated and computed totals that is still a match. */
  total_tolerance: tolerance.default('0.01'),
  /** Below this OCR confidence on a key field, the invoice is held as `low_confidence`. */
  min_ocr_confidence: z.number().min(0).max(1).default(0.85),
});
export type CustomsOptions = z.output<typeof customsOptionsSchema>;

export const DEFAULT_OPTIONS: CustomsOptions = customsOptionsSchema.parse({});

const optionsCache = new WeakMap<object, CustomsOptions>();
/** The batch's options with defaults (checked at submit time; parsed once per batch here). */
export function customsOptions(context?: ProfileContext): CustomsOptions {
  const raw = context?.options;
  if (raw === undefined) return DEFAULT_OPTIONS;
  let options = optionsCache.get(raw);
  if (options === undefined) {
    options = customsOptionsSchema.parse(raw);
    optionsCache.set(raw, options);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// The source shape every reader produces

/** Text as written, or a JSON number; `null` counts as absent. */
const scalar = z.union([z.string(), z.number()]).nullish();

const sourceParty = z.strictObject({ id: scalar, name: scalar, country: scalar });

const sourceLine = z.strictObject({
  line_no: scalar,
  description: scalar,
  quantity: scalar,
  unit: scalar,
  unit_price: scalar,
  line_total: scalar,
  hs_code: scalar,
  origin_country: scalar,
});

const sourcePackingList = z.strictObject({
  packages: scalar,
  gross_weight_kg: scalar,
  net_weight_kg: scalar,
  lines: z.array(z.strictObject({ line_no: scalar, packages: scalar })).nullish(),
});

export const customsSourceSchema = z.strictObject({
  invoice_number: scalar,
  invoice_date: scalar,
  /** The locale the document's numbers and dates are written in; absent: `profile_options.locale`. */
  locale: scalar,
  exporter: sourceParty.nullish(),
  importer: sourceParty.nullish(),
  /** An Incoterms 2020 rule, optionally followed by the named place (`FOB Hamburg`). */
  incoterm: scalar,
  currency: scalar,
  invoice_total: scalar,
  lines: z.array(sourceLine).nullish(),
  packing_list: sourcePackingList.nullish(),
  /** OCR confidence (0..1) by field path: `invoice_total`, `exporter.id`, `lines[0].hs_code` (0-based). */
  ocr_confidence: z.record(z.string(), scalar).nullish(),
});
export type CustomsSource = z.input<typeof customsSourceSchema>;

// ---------------------------------------------------------------------------------------------------------------
// The canonical record

export interface CustomsParty {
  /** Upper-cased, without spaces (an EORI or VAT number): the exporter's is half the business key. */
  id?: string;
  name: string;
  /** ISO 3166-1 alpha-2. */
  country?: string;
}

export interface CustomsLine {
  line_no: number;
  description: string;
  /** Decimal text, positive. */
  quantity: string;
  unit?: string;
  /** Decimal text in the invoice currency. */
  unit_price: string;
  line_total: string;
  /** 6, 8 or 10 digits, kept as text (leading zeros and national digits matter). */
  hs_code: string;
  origin_country: string;
}

export interface CustomsPackingList {
  packages: number;
  gross_weight_kg: string;
  net_weight_kg: string;
  lines?: { line_no: number; packages: number }[];
}

export interface CustomsInvoice {
  invoice_number: string;
  /** ISO `YYYY-MM-DD`. */
  invoice_date: string;
  exporter: CustomsParty & { id: string };
  importer: CustomsParty;
  incoterm: Incoterm;
  incoterm_place?: string;
  /** ISO 4217. */
  currency: string;
  lines: CustomsLine[];
  invoice_total: string;
  packing_list?: CustomsPackingList;
  ocr_confidence?: Record<string, number>;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

const zodPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc === '' ? String(p) : `${acc}.${String(p)}`),
    '',
  );

function valueAt(fields: unknown, path: readonly PropertyKey[]): unknown {
  let at: unknown = fields;
  for (const p of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[p];
  }
  return at;
}

const issue = (path: string, code: IssueCode, message: string, value?: unknown): FieldIssue =>
  value === undefined ? { path, code, message } : { path, code, message, value };

type Scalar = string | number | null | undefined;

/** Collects the issues of one record while it parses its fields in the record's locale. */
class Checker {
  readonly issues: FieldIssue[] = [];
  constructor(readonly locale: Locale) {}

  add(path: string, code: IssueCode, message: string, value?: unknown): void {
    this.issues.push(issue(path, code, message, value));
  }

  /** Trimmed text; a missing or blank required field is an issue. */
  text(path: string, value: Scalar, required = true): string | undefined {
    if (value === undefined || value === null) {
      if (required) this.add(path, 'missing', `${path} is missing`);
      return undefined;
    }
    const text = String(value).trim();
    if (text === '') {
      if (required) this.add(path, 'empty', `${path} is empty`, value);
      return undefined;
    }
    return text;
  }

  /** A decimal in the record's locale, as canonical text; `min` says which values are allowed. */
  number(path: string, value: Scalar, min: 'positive' | 'nonnegative', required = true): Decimal | undefined {
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
      if (required) this.add(path, value === undefined || value === null ? 'missing' : 'empty', `${path} is missing`);
      return undefined;
    }
    const parsed = parseNumber(value, this.locale);
    if (!parsed.ok) {
      this.add(path, 'not_a_number', `${path}: ${parsed.message}`, value);
      return undefined;
    }
    const d = decimal(parsed.value);
    if (min === 'positive' && sign(d) <= 0) {
      this.add(path, 'not_positive', `${path} must be greater than zero`, value);
      return undefined;
    }
    if (min === 'nonnegative' && sign(d) < 0) {
      this.add(path, 'negative', `${path} must not be negative`, value);
      return undefined;
    }
    return d;
  }

  /** A whole count (packages): a number in the locale without a fraction. */
  count(path: string, value: Scalar, min: number): number | undefined {
    const d = this.number(path, value, 'nonnegative');
    if (d === undefined) return undefined;
    const text = format(d);
    if (!/^\d+(?:\.0+)?$/.test(text) || compare(d, decimal(String(Number.MAX_SAFE_INTEGER))) > 0) {
      this.add(path, 'not_integer', `${path} must be a whole number`, value);
      return undefined;
    }
    const n = Number(text.split('.')[0]);
    if (n < min) {
      this.add(path, 'not_positive', `${path} must be at least ${min}`, value);
      return undefined;
    }
    return n;
  }

  date(path: string, value: Scalar): string | undefined {
    const text = this.text(path, value);
    if (text === undefined) return undefined;
    const parsed = parseDate(text, this.locale);
    if (!parsed.ok) {
      this.add(path, 'invalid_date', `${path}: ${parsed.message}`, value);
      return undefined;
    }
    return parsed.value;
  }

  country(path: string, value: Scalar, required: boolean): string | undefined {
    const text = this.text(path, value, required);
    if (text === undefined) return undefined;
    const code = text.toUpperCase();
    if (!COUNTRY_CODES.has(code)) {
      this.add(path, 'invalid_country', `${path} must be an ISO 3166-1 alpha-2 country code such as DE`, value);
      return undefined;
    }
    return code;
  }

  party(path: string, value: { id?: Scalar; name?: Scalar; country?: Scalar } | null | undefined, idRequired: boolean) {
    if (value === undefined || value === null) {
      this.add(path, 'missing', `${path} is missing`);
      return undefined;
    }
    const id = this.text(`${path}.id`, value.id, idRequired)?.toUpperCase().replace(/\s+/g, '');
    const name = this.text(`${path}.name`, value.name);
    const country = this.country(`${path}.country`, value.country, false);
    if (name === undefined || (idRequired && id === undefined)) return undefined;
    return { ...(id === undefined ? {} : { id }), name, ...(country === undefined ? {} : { country }) };
  }
}

const HS_SEPARATORS = /[\s.]/g;

/** Validates one source record: the canonical invoice, or every issue found and the reason code to file it under. */
export function validateCustoms(fields: SourceFields, context?: ProfileContext): ValidationOutcome<CustomsInvoice> {
  const options = customsOptions(context);
  const shape = customsSourceSchema.safeParse(fields);
  if (!shape.success) {
    const issues: FieldIssue[] = [];
    for (const zi of shape.error.issues) {
      if (zi.code === 'unrecognized_keys') {
        for (const key of zi.keys) {
          const path = zodPath([...zi.path, key]);
          issues.push(issue(path, 'unknown_field', `unknown field ${path}`, valueAt(fields, [...zi.path, key])));
        }
      } else {
        const path = zodPath(zi.path);
        issues.push(issue(path, 'invalid_type', `${path || 'the record'}: ${zi.message}`, valueAt(fields, zi.path)));
      }
    }
    return { ok: false, reasonCode: 'schema_violation', issues };
  }
  const src = shape.data;

  let locale: Locale = options.locale;
  const pre: FieldIssue[] = [];
  if (src.locale !== undefined && src.locale !== null && String(src.locale).trim() !== '') {
    const declared = String(src.locale).trim();
    if (isLocale(declared)) locale = declared;
    else pre.push(issue('locale', 'unknown_locale', `locale must be one of ${LOCALES.join(', ')}`, src.locale));
  }
  const c = new Checker(locale);
  c.issues.push(...pre);
  const tol = decimal(options.total_tolerance);

  const invoiceNumber = c.text('invoice_number', src.invoice_number);
  const invoiceDate = c.date('invoice_date', src.invoice_date);
  const exporter = c.party('exporter', src.exporter, true);
  const importer = c.party('importer', src.importer, false);

  let incoterm: Incoterm | undefined;
  let incotermPlace: string | undefined;
  const incotermText = c.text('incoterm', src.incoterm);
  if (incotermText !== undefined) {
    const m = /^([A-Za-z]{3})\b[\s,]*(.*)$/.exec(incotermText);
    const code = m?.[1]?.toUpperCase() ?? '';
    if (m && isIncoterm(code)) {
      incoterm = code;
      const place = m[2]!.replace(/\s*,?\s*Incoterms\s*®?\s*2020\s*$/i, '').trim();
      if (place !== '') incotermPlace = place;
    } else {
      const hint = RETIRED_INCOTERMS[code] ? `; ${code} is retired, use ${RETIRED_INCOTERMS[code]}` : '';
      c.add(
        'incoterm',
        'invalid_incoterm',
        `incoterm must be an Incoterms 2020 rule (${INCOTERMS_2020.join(' ')}), optionally with a named place${hint}`,
        src.incoterm,
      );
    }
  }

  let currency: string | undefined;
  const currencyText = c.text('currency', src.currency);
  if (currencyText !== undefined) {
    if (CURRENCY_CODES.has(currencyText.toUpperCase())) currency = currencyText.toUpperCase();
    else c.add('currency', 'invalid_currency', 'currency must be an ISO 4217 code such as EUR', src.currency);
  }

  const invoiceTotal = c.number('invoice_total', src.invoice_total, 'nonnegative');

  // Lines: each parsed on its own; the totals are reconciled only when every amount they use parsed.
  const lines: CustomsLine[] = [];
  let linesComplete = true;
  let sum: Decimal = { units: 0n, scale: 0 };
  const lineNos = new Set<number>();
  if (src.lines === undefined || src.lines === null || src.lines.length === 0) {
    c.add('lines', src.lines ? 'empty' : 'missing', 'an invoice needs at least one line');
    linesComplete = false;
  }
  (src.lines ?? []).forEach((line, i) => {
    const p = `lines[${i}]`;
    let lineNo = i + 1;
    const lineNoText = c.text(`${p}.line_no`, line.line_no, false);
    if (lineNoText !== undefined) {
      if (/^\d{1,9}$/.test(lineNoText) && Number(lineNoText) >= 1) lineNo = Number(lineNoText);
      else c.add(`${p}.line_no`, 'invalid_line_no', `${p}.line_no must be a whole number from 1`, line.line_no);
    }
    if (lineNos.has(lineNo)) {
      c.add(`${p}.line_no`, 'invalid_line_no', `line number ${lineNo} appears twice on the invoice`, line.line_no);
    }
    lineNos.add(lineNo);
    const description = c.text(`${p}.description`, line.description);
    const unit = c.text(`${p}.unit`, line.unit, false);
    const quantity = c.number(`${p}.quantity`, line.quantity, 'positive');
    const unitPrice = c.number(`${p}.unit_price`, line.unit_price, 'nonnegative');
    const lineTotal = c.number(`${p}.line_total`, line.line_total, 'nonnegative');
    const hsCode = hsCodeOf(c, `${p}.hs_code`, line.hs_code);
    const origin = c.country(`${p}.origin_country`, line.origin_country, true);
    if (quantity && unitPrice && lineTotal) {
      const computed = mul(quantity, unitPrice);
      const diff = abs(sub(computed, lineTotal));
      if (compare(diff, tol) > 0) {
        c.add(
          `${p}.line_total`,
          'line_total_mismatch',
          `${p}.line_total ${format(lineTotal)} is not quantity × unit_price = ${format(computed)} ` +
            `(difference ${format(diff)}, tolerance ${options.total_tolerance})`,
          line.line_total,
        );
      }
    }
    if (lineTotal) sum = add(sum, lineTotal);
    else linesComplete = false;
    if (description && quantity && unitPrice && lineTotal && hsCode && origin) {
      lines.push({
        line_no: lineNo,
        description,
        quantity: format(quantity),
        ...(unit === undefined ? {} : { unit }),
        unit_price: format(unitPrice),
        line_total: format(lineTotal),
        hs_code: hsCode,
        origin_country: origin,
      });
    }
  });
  if (invoiceTotal && linesComplete) {
    const diff = abs(sub(sum, invoiceTotal));
    if (compare(diff, tol) > 0) {
      c.add(
        'invoice_total',
        'total_mismatch',
        `invoice_total ${format(invoiceTotal)} is not the sum of the line totals ${format(sum)} ` +
          `(difference ${format(diff)}, tolerance ${options.total_tolerance})`,
        src.invoice_total,
      );
    }
  }

  const packingList = packingListOf(c, src.packing_list, lineNos);
  const ocr = ocrConfidenceOf(c, src.ocr_confidence);

  if (c.issues.length > 0) return { ok: false, reasonCode: reasonFor(c.issues), issues: c.issues };
  const record: CustomsInvoice = {
    invoice_number: invoiceNumber!,
    invoice_date: invoiceDate!,
    exporter: exporter as CustomsInvoice['exporter'],
    importer: importer!,
    incoterm: incoterm!,
    ...(incotermPlace === undefined ? {} : { incoterm_place: incotermPlace }),
    currency: currency!,
    lines,
    invoice_total: format(invoiceTotal!),
    ...(packingList === undefined ? {} : { packing_list: packingList }),
    ...(ocr === undefined ? {} : { ocr_confidence: ocr }),
  };
  return { ok: true, record };
}

/** An HS code of 6, 8 or 10 digits; dots and spaces (`8504.40.90`) are separators and dropped. */
function hsCodeOf(c: Checker, path: string, value: Scalar): string | undefined {
  const text = c.text(path, value);
  if (text === undefined) return undefined;
  const code = text.replace(HS_SEPARATORS, '');
  if (!/^\d+$/.test(code) || ![6, 8, 10].includes(code.length)) {
    const hint =
      typeof value === 'number' && [5, 7, 9].includes(code.length)
        ? ' (written as a JSON number, it lost its leading zero: write HS codes as text)'
        : '';
    c.add(path, 'invalid_hs_code', `${path} must be an HS code of 6, 8 or 10 digits${hint}`, value);
    return undefined;
  }
  return code;
}

function packingListOf(
  c: Checker,
  src: z.output<typeof sourcePackingList> | null | undefined,
  lineNos: ReadonlySet<number>,
): CustomsPackingList | undefined {
  if (src === undefined || src === null) return undefined;
  const p = 'packing_list';
  const packages = c.count(`${p}.packages`, src.packages, 1);
  const gross = c.number(`${p}.gross_weight_kg`, src.gross_weight_kg, 'positive');
  const net = c.number(`${p}.net_weight_kg`, src.net_weight_kg, 'positive');
  if (gross && net && compare(gross, net) < 0) {
    c.add(
      `${p}.gross_weight_kg`,
      'gross_below_net',
      `gross weight ${format(gross)} kg is below net weight ${format(net)} kg`,
      src.gross_weight_kg,
    );
  }
  let lines: { line_no: number; packages: number }[] | undefined;
  if (src.lines !== undefined && src.lines !== null && src.lines.length > 0) {
    lines = [];
    let complete = true;
    src.lines.forEach((line, i) => {
      const lp = `${p}.lines[${i}]`;
      const lineNoText = c.text(`${lp}.line_no`, line.line_no);
      let lineNo: number | undefined;
      if (lineNoText !== undefined) {
        if (/^\d{1,9}$/.test(lineNoText) && lineNos.has(Number(lineNoText))) lineNo = Number(lineNoText);
        else c.add(`${lp}.line_no`, 'unknown_line', `${lp}.line_no names no line of the invoice`, line.line_no);
      }
      const n = c.count(`${lp}.packages`, line.packages, 0);
      if (lineNo !== undefined && n !== undefined) lines!.push({ line_no: lineNo, packages: n });
      else complete = false;
    });
    const total = lines.reduce((s, l) => s + l.packages, 0);
    if (complete && packages !== undefined && total !== packages) {
      c.add(
        `${p}.packages`,
        'package_count_mismatch',
        `the packing list says ${packages} packages but its lines add up to ${total}`,
        src.packages,
      );
    }
  }
  if (packages === undefined || gross === undefined || net === undefined) return undefined;
  return {
    packages,
    gross_weight_kg: format(gross),
    net_weight_kg: format(net),
    ...(lines === undefined ? {} : { lines }),
  };
}

function ocrConfidenceOf(
  c: Checker,
  src: Record<string, Scalar> | null | undefined,
): Record<string, number> | undefined {
  if (src === undefined || src === null) return undefined;
  const out: Record<string, number> = {};
  for (const [field, value] of Object.entries(src)) {
    const path = `ocr_confidence.${field}`;
    const d = c.number(path, value, 'nonnegative');
    if (d === undefined) continue;
    if (compare(d, decimal('1')) > 0) {
      c.add(path, 'out_of_range', `${path} must be a confidence from 0 to 1`, value);
      continue;
    }
    out[field.trim()] = Number(format(d));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function reasonFor(issues: FieldIssue[]): ValidationReasonCode {
  const reasons = new Set(issues.map((i) => ISSUE_REASONS[i.code as IssueCode]));
  const reason = VALIDATION_REASON_CODES.find((r) => reasons.has(r));
  if (reason === undefined) throw new Error(`no reason code for issues ${JSON.stringify(issues)}`);
  return reason;
}
