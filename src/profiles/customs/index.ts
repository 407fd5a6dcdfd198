/**
 * Customs commercial invoices (seed 001): one record per invoice with its lines and packing list, read from JSON,
 * NDJSON, UBL XML or CSV; numbers and dates parsed in the declared locale; totals, weights and package counts
 * reconciled exactly; HS codes checked against the nomenclature the user loads (`sluice reference import hs`);
 * invoices read with low OCR confidence held for a person; committed once per invoice number and exporter.
 */
import { createHash } from 'node:crypto';
import { stagedInput } from '../staged-input.ts';
import type { Profile } from '../types.ts';
import { HOLD_REASON_CODES, classifyCustoms, prepareCustoms } from './classify.ts';
import type { CustomsPrepared } from './classify.ts';
import {
  CUSTOMS_FORMATS,
  DEFAULT_DEFECTS,
  DEFECTS,
  generateCustomsInvoices,
  writeGeneratorReferences,
} from './generator.ts';
import { readCsvInvoices, readJsonInvoices, readNdjsonInvoices, readXmlInvoices } from './readers.ts';
import { HS_REFERENCE_KIND, hsReference } from './reference.ts';
import { VALIDATION_REASON_CODES, customsOptionsSchema, validateCustoms } from './schema.ts';
import type { CustomsInvoice } from './schema.ts';

export type { CustomsInvoice } from './schema.ts';

/** Every reason code an invoice can be quarantined with: parse errors, validation reasons, then hold reasons. */
export const CUSTOMS_REASON_CODES = ['parse_error', ...VALIDATION_REASON_CODES, ...HOLD_REASON_CODES] as const;

/** `<invoice_number>/<exporter id>`: an exporter numbers its invoices once. */
export const customsBusinessKey = (record: CustomsInvoice): string => `${record.invoice_number}/${record.exporter.id}`;

/**
 * Hex SHA-256 of the profile id and the business key, joined by unit separators: the same invoice has the same key
 * whichever file or format it arrives in, so resubmitting it as XML after JSON is a duplicate, not a second commit.
 */
export const customsIdempotencyKey = (record: CustomsInvoice): string =>
  createHash('sha256').update(`customs\u001f${record.invoice_number}\u001f${record.exporter.id}`).digest('hex');

export const customsProfile: Profile<CustomsInvoice, CustomsPrepared> = {
  id: 'customs',
  title: 'Customs commercial invoice',
  formats: ['json', 'ndjson', 'xml', 'csv'],
  // An invoice is one record with a few lines (about 1 KB staged): chunks of 500 keep each chunk's work well above
  // its orchestration cost while its classification lookup stays one small query.
  defaultConfig: {
    max_chunk_size: 500,
    profile_options: { locale: 'en-US', total_tolerance: '0.01', min_ocr_confidence: 0.85 },
  },
  optionsSchema: customsOptionsSchema,
  references: { [HS_REFERENCE_KIND]: hsReference },
  ...stagedInput('customs', {
    json: readJsonInvoices,
    ndjson: readNdjsonInvoices,
    xml: readXmlInvoices,
    csv: readCsvInvoices,
  }),
  validate: validateCustoms,
  prepareClassify: (records, lookup) => prepareCustoms(records, lookup),
  classify: classifyCustoms,
  idempotencyKey: customsIdempotencyKey,
  businessKey: customsBusinessKey,
  generator: {
    formats: CUSTOMS_FORMATS,
    defects: DEFECTS,
    defaultDefects: DEFAULT_DEFECTS,
    generate: (out, opts) => generateCustomsInvoices(out, opts),
    references: (out) => writeGeneratorReferences(out),
  },
};
