/**
 * Business rules on a valid invoice: hold it when a key field was read with low OCR confidence or when an HS code is
 * not in the nomenclature the user loaded; otherwise label it with the HS section and chapter of its main line.
 */
import type { Classification, FieldIssue, ProfileContext, ReferenceLookup } from '../types.ts';
import { compare, decimal } from './decimal.ts';
import { HS_REFERENCE_KIND } from './reference.ts';
import type { HsEntry } from './reference.ts';
import { customsOptions } from './schema.ts';
import type { CustomsInvoice } from './schema.ts';

/** Hold reason codes, highest priority first (a misread field explains an unknown code, not the other way round). */
export const HOLD_REASON_CODES = ['low_confidence', 'unknown_hs_code'] as const;
export type HoldReasonCode = (typeof HOLD_REASON_CODES)[number];

/**
 * Fields whose misreading changes what is declared or who declares it. `lines[]` stands for every line index.
 * Confidence on other fields (a description, a name) is kept in the record but holds nothing.
 */
export const OCR_KEY_FIELDS: ReadonlySet<string> = new Set([
  'invoice_number',
  'invoice_date',
  'exporter.id',
  'incoterm',
  'currency',
  'invoice_total',
  'lines[].quantity',
  'lines[].unit_price',
  'lines[].line_total',
  'lines[].hs_code',
  'lines[].origin_country',
  'packing_list.gross_weight_kg',
  'packing_list.net_weight_kg',
  'packing_list.packages',
]);

/** `lines[3].hs_code` -> `lines[].hs_code`. */
export const keyFieldPattern = (path: string): string => path.replace(/\[\d+\]/g, '[]');

/** What classifying a chunk needs: the nomenclature entries of the chunk's HS subheadings (by 6-digit code). */
export interface CustomsPrepared {
  hs: ReadonlyMap<string, HsEntry>;
}

/** Loads the chunk's HS subheadings in one query. */
export async function prepareCustoms(
  records: readonly CustomsInvoice[],
  lookup: ReferenceLookup,
): Promise<CustomsPrepared> {
  const keys = [...new Set(records.flatMap((r) => r.lines.map((l) => l.hs_code.slice(0, 6))))];
  const found = await lookup.reference(HS_REFERENCE_KIND, keys);
  return { hs: found as Map<string, HsEntry> };
}

export function classifyCustoms(
  record: CustomsInvoice,
  prepared?: CustomsPrepared,
  context?: ProfileContext,
): Classification {
  if (prepared === undefined) throw new Error('customs classification needs prepareClassify (the HS nomenclature)');
  const { min_ocr_confidence: min } = customsOptions(context);
  const issues: FieldIssue[] = [];
  for (const [field, confidence] of Object.entries(record.ocr_confidence ?? {})) {
    if (confidence < min && OCR_KEY_FIELDS.has(keyFieldPattern(field))) {
      issues.push({
        path: field,
        code: 'low_confidence',
        message: `${field} was read with OCR confidence ${confidence}, below ${min}: check it against the document`,
        value: confidence,
      });
    }
  }
  record.lines.forEach((line, i) => {
    if (!prepared.hs.has(line.hs_code.slice(0, 6))) {
      issues.push({
        path: `lines[${i}].hs_code`,
        code: 'unknown_hs_code',
        message:
          `HS subheading ${line.hs_code.slice(0, 6)} is not in the loaded nomenclature ` +
          `(sluice reference import ${HS_REFERENCE_KIND} <file>)`,
        value: line.hs_code,
      });
    }
  });
  // Issues are pushed in HOLD_REASON_CODES order, so the first names the record's reason.
  const first = issues[0];
  if (first !== undefined) return { hold: true, reasonCode: first.code, issues };
  return { hold: false, label: hsLabel(record, prepared.hs) };
}

/**
 * `section XVI chapter 85`: the HS section and chapter of the line with the largest total (the first of equals),
 * which is what a broker files the invoice under; `chapter 85` when the nomenclature has no section for it.
 */
export function hsLabel(record: CustomsInvoice, hs: ReadonlyMap<string, HsEntry>): string {
  let main = record.lines[0]!;
  for (const line of record.lines) {
    if (compare(decimal(line.line_total), decimal(main.line_total)) > 0) main = line;
  }
  const chapter = main.hs_code.slice(0, 2);
  const section = hs.get(main.hs_code.slice(0, 6))?.section;
  return section && /^[IVX]+$/.test(section) ? `section ${section} chapter ${chapter}` : `chapter ${chapter}`;
}
