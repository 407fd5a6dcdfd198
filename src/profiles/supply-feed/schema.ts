/**
 * The canonical supply-chain document (seed 003): a purchase order, a ship notice (ASN) or an invoice, with its lines,
 * whatever format it came in. Every reader (X12, CSV, XLSX, XML) maps its shape onto the same source fields, so this
 * one schema judges them all the same way and a reviewer amends the same field names whatever the input was.
 *
 * Quantities and prices stay decimal strings (normalised: `016.50` is `16.5`) and are compared as scaled integers,
 * never as floats.
 */
import { z } from 'zod';
import type { FieldIssue, SourceFields, ValidationOutcome } from '../types.ts';

export const DOC_TYPES = ['purchase_order', 'ship_notice', 'invoice'] as const;
export type DocType = (typeof DOC_TYPES)[number];

/** One line of a document. `unit_price` is required on orders and invoices, optional on ship notices. */
export interface SupplyLine {
  line_no: string;
  sku: string;
  /** Positive decimal string, normalised. */
  quantity: string;
  unit: string;
  /** Non-negative decimal string, normalised. */
  unit_price?: string;
  /**
   * The purchase order this line belongs to, present only when it differs from the document's `po_number` (a ship
   * notice that covers several orders).
   */
  po_number?: string;
}

export interface SupplyDocument {
  doc_type: DocType;
  doc_number: string;
  /** `YYYY-MM-DD`. */
  doc_date: string;
  buyer?: string;
  supplier_id: string;
  /** The order a ship notice or invoice refers to (its first, for a ship notice of several); an order's own number. */
  po_number: string;
  /** ISO 4217 code, upper case. Required on orders and invoices; a ship notice has one only if its source gave it. */
  currency?: string;
  lines: SupplyLine[];
}

/** Validation reason codes, highest priority first: a rejected record is filed under the first that applies. */
export const VALIDATION_REASON_CODES = [
  'schema_violation',
  'invalid_doc_type',
  'missing_field',
  'invalid_date',
  'invalid_quantity',
  'invalid_price',
  'invalid_currency',
  'invalid_reference',
] as const;
export type ValidationReasonCode = (typeof VALIDATION_REASON_CODES)[number];

/** Most digits after the decimal point in a quantity or price: enough for any unit of measure or unit price. */
export const MAX_FRACTION_DIGITS = 6;
/** Most digits before it: a quantity or price beyond a trillion is a typo, and keeps every product exact. */
const MAX_INTEGER_DIGITS = 12;

type Ctx = z.core.$RefinementCtx;
const report = (ctx: Ctx, code: string, reason: ValidationReasonCode, message: string): void => {
  ctx.addIssue({ code: 'custom', message, params: { code, reason } });
};

const requiredText = (field: string) =>
  z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (value === '') report(ctx, 'empty', 'missing_field', `${field} is empty`);
    });

/** Text that may be absent or blank (then it is left out of the record). */
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value === '' ? undefined : value));

const docType = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const normal = value.toLowerCase();
    if (value === '') report(ctx, 'empty', 'missing_field', 'doc_type is empty');
    else if (!(DOC_TYPES as readonly string[]).includes(normal)) {
      report(ctx, 'invalid_doc_type', 'invalid_doc_type', `doc_type must be one of ${DOC_TYPES.join(', ')}`);
    }
    return normal as DocType;
  });

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** A real calendar date written `YYYY-MM-DD` (2024-02-30 and 2024-2-5 are not). */
export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (m === null) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

const docDate = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    if (value === '') report(ctx, 'empty', 'missing_field', 'doc_date is empty');
    else if (!isIsoDate(value))
      report(ctx, 'invalid_date', 'invalid_date', 'doc_date must be a calendar date YYYY-MM-DD');
  });

/** Absent or blank is allowed here; orders and invoices must have one (checked on the document). */
const currency = z
  .string()
  .trim()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value === '') return undefined;
    if (!/^[A-Za-z]{3}$/.test(value)) {
      report(ctx, 'invalid_currency', 'invalid_currency', 'currency must be a three-letter ISO 4217 code');
    }
    return value.toUpperCase();
  });

const PLAIN_DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** `016.50` -> `16.5`, `3.000` -> `3`; undefined for anything but plain unsigned decimal digits. */
export function normalizeDecimal(value: string): string | undefined {
  const m = PLAIN_DECIMAL.exec(value);
  if (m === null) return undefined;
  const whole = m[1]!.replace(/^0+(?=\d)/, '');
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** A normalised decimal string as an integer of millionths (exact for `MAX_FRACTION_DIGITS` digits). */
export function toMicros(value: string): bigint {
  const [whole, fraction = ''] = value.split('.');
  return BigInt(whole!) * 1_000_000n + BigInt(fraction.padEnd(MAX_FRACTION_DIGITS, '0').slice(0, MAX_FRACTION_DIGITS));
}

/** Millionths back to a normalised decimal string. */
export function fromMicros(micros: bigint): string {
  const whole = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n).toString().padStart(MAX_FRACTION_DIGITS, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

const decimal = (field: string, reason: 'invalid_quantity' | 'invalid_price', positive: boolean) =>
  z
    .string()
    .trim()
    .transform((value, ctx) => {
      if (value === '') {
        report(ctx, 'empty', 'missing_field', `${field} is empty`);
        return z.NEVER;
      }
      const normal = normalizeDecimal(value);
      if (normal === undefined) {
        if (/^-\d*\.?\d+$/.test(value) && Number(value) !== 0) {
          report(ctx, 'negative', reason, `${field} must not be negative`);
        } else report(ctx, 'not_a_number', reason, `${field} must be a decimal number written as plain digits`);
        return z.NEVER;
      }
      const [whole, fraction = ''] = normal.split('.');
      if (fraction.length > MAX_FRACTION_DIGITS || whole!.length > MAX_INTEGER_DIGITS) {
        report(
          ctx,
          'out_of_range',
          reason,
          `${field} must have at most ${MAX_INTEGER_DIGITS} digits before the point and ${MAX_FRACTION_DIGITS} after it`,
        );
        return z.NEVER;
      }
      if (positive && normal === '0') {
        report(ctx, 'not_positive', reason, `${field} must be more than zero`);
        return z.NEVER;
      }
      return normal;
    });

const lineSchema = z.strictObject({
  line_no: requiredText('line_no'),
  sku: requiredText('sku'),
  quantity: decimal('quantity', 'invalid_quantity', true),
  unit: requiredText('unit').transform((u) => u.toUpperCase()),
  /** Blank on a ship notice is the same as absent; orders and invoices must have it (checked below). */
  unit_price: z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .pipe(decimal('unit_price', 'invalid_price', false).optional()),
  po_number: optionalText,
});

const documentSchema = z
  .strictObject({
    doc_type: docType,
    doc_number: requiredText('doc_number'),
    doc_date: docDate,
    buyer: optionalText,
    supplier_id: requiredText('supplier_id'),
    po_number: optionalText,
    currency,
    lines: z.array(lineSchema).superRefine((lines, ctx) => {
      if (lines.length === 0) report(ctx, 'empty', 'missing_field', 'a document needs at least one line');
    }),
  })
  .superRefine((doc, ctx) => {
    const needsPrice = doc.doc_type !== 'ship_notice';
    if (needsPrice && doc.currency === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['currency'],
        message: `currency is required on ${doc.doc_type === 'invoice' ? 'an invoice' : 'a purchase order'}`,
        params: { code: 'missing', reason: 'missing_field' },
      });
    }
    doc.lines.forEach((line, i) => {
      if (needsPrice && line.unit_price === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['lines', i, 'unit_price'],
          message: `unit_price is required on ${doc.doc_type === 'invoice' ? 'an invoice' : 'a purchase order'} line`,
          params: { code: 'missing', reason: 'missing_field' },
        });
      }
    });
    if (doc.doc_type === 'purchase_order') {
      const own = doc.po_number ?? doc.doc_number;
      if (own !== doc.doc_number) {
        ctx.addIssue({
          code: 'custom',
          path: ['po_number'],
          message: `a purchase order's po_number must be its own number ${JSON.stringify(doc.doc_number)}`,
          params: { code: 'po_mismatch', reason: 'invalid_reference' },
        });
      }
    }
    if (doc.doc_type !== 'ship_notice') {
      // Only a ship notice may cover several orders; an order's or an invoice's lines all belong to one.
      const docPo = doc.doc_type === 'purchase_order' ? doc.doc_number : doc.po_number;
      doc.lines.forEach((line, i) => {
        if (line.po_number !== undefined && docPo !== undefined && line.po_number !== docPo) {
          ctx.addIssue({
            code: 'custom',
            path: ['lines', i, 'po_number'],
            message: `every line of ${doc.doc_type === 'invoice' ? 'an invoice' : 'a purchase order'} belongs to its order ${JSON.stringify(docPo)}`,
            params: { code: 'po_mismatch', reason: 'invalid_reference' },
          });
        }
      });
    }
    if (doc.doc_type !== 'purchase_order' && doc.po_number === undefined && doc.lines[0]?.po_number === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['po_number'],
        message: `a ${doc.doc_type === 'invoice' ? 'invoice' : 'ship notice'} must name the purchase order it refers to`,
        params: { code: 'missing', reason: 'missing_field' },
      });
    }
  })
  .transform((doc): SupplyDocument => {
    const po = doc.doc_type === 'purchase_order' ? doc.doc_number : (doc.po_number ?? doc.lines[0]!.po_number!);
    const lines = doc.lines.map(({ po_number, unit_price, ...line }) => ({
      ...line,
      ...(unit_price !== undefined ? { unit_price } : {}),
      ...(po_number !== undefined && po_number !== po ? { po_number } : {}),
    }));
    return {
      doc_type: doc.doc_type,
      doc_number: doc.doc_number,
      doc_date: doc.doc_date,
      ...(doc.buyer !== undefined ? { buyer: doc.buyer } : {}),
      supplier_id: doc.supplier_id,
      po_number: po,
      ...(doc.currency !== undefined ? { currency: doc.currency } : {}),
      lines,
    };
  });

/** `lines[2].quantity` from zod's `['lines', 2, 'quantity']`. */
function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out === '' ? String(key) : `${out}.${String(key)}`;
  }, '');
}

function valueAt(fields: unknown, path: readonly PropertyKey[]): unknown {
  let at: unknown = fields;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key as string];
  }
  return at;
}

/** Validates one document's source fields: the canonical record, or every issue found and the reason to file it under. */
export function validateSupplyDocument(fields: SourceFields): ValidationOutcome<SupplyDocument> {
  const result = documentSchema.safeParse(fields);
  if (result.success) return { ok: true, record: result.data };

  const issues: Array<FieldIssue & { reason: ValidationReasonCode }> = [];
  for (const zi of result.error.issues) {
    if (zi.code === 'unrecognized_keys') {
      for (const key of zi.keys) {
        const path = [...zi.path, key];
        issues.push({
          path: pathText(path),
          code: 'unknown_field',
          message: `unknown field ${key}`,
          value: valueAt(fields, path),
          reason: 'schema_violation',
        });
      }
      continue;
    }
    const path = pathText(zi.path);
    const value = valueAt(fields, zi.path);
    if (zi.code === 'custom') {
      const params = zi.params as { code: string; reason: ValidationReasonCode };
      const issue = { path, code: params.code, message: zi.message, reason: params.reason };
      issues.push(value === undefined || params.code === 'missing' ? issue : { ...issue, value });
    } else if (value === undefined) {
      issues.push({ path, code: 'missing', message: `${path} is missing`, reason: 'missing_field' });
    } else {
      // zod's own issues beyond absent fields are type errors: a number where text belongs, lines not a list.
      issues.push({ path, code: 'invalid_type', message: zi.message, value, reason: 'schema_violation' });
    }
  }
  const reasons = new Set(issues.map((i) => i.reason));
  const reasonCode = VALIDATION_REASON_CODES.find((r) => reasons.has(r))!;
  return { ok: false, reasonCode, issues: issues.map(({ reason: _reason, ...issue }) => issue) };
}
