/**
 * Carrier freight invoices (seed 000): EDI X12 210, UBL 2.1 XML and CSV exports, one master invoice with its
 * shipment legs and charge lines per record (never split across chunks). Every charge is audited against the
 * carrier's rate contract (reference data `freight-rates`); invoices that deviate beyond the tolerance are held as
 * `rate_variance` for dispute review, charges without a contract as `no_contract_rate`. Committed once per carrier
 * and invoice number, whatever format the invoice came in.
 */
import { createHash } from 'node:crypto';
import { stagedInput } from '../staged-input.ts';
import type { Profile } from '../types.ts';
import type { FreightPrepared } from './classify.ts';
import {
  DEFAULT_OPTIONS,
  HOLD_REASON_CODES,
  classifyFreight,
  freightOptionsSchema,
  prepareFreight,
} from './classify.ts';
import {
  DEFAULT_DEFECTS,
  DEFECTS,
  GENERATOR_FORMATS,
  generateFreightInvoices,
  writeFreightReferences,
} from './generator.ts';
import { freightReaders } from './readers.ts';
import { RATE_KIND, freightRates } from './reference.ts';
import { FREIGHT_FORMATS, VALIDATION_REASON_CODES, validateFreight } from './schema.ts';
import type { FreightInvoice } from './schema.ts';

export type { FreightInvoice } from './schema.ts';

/** Every reason code a freight invoice can be quarantined with: parse errors, validation reasons, hold reasons. */
export const FREIGHT_REASON_CODES = ['parse_error', ...VALIDATION_REASON_CODES, ...HOLD_REASON_CODES] as const;
export type FreightReasonCode = (typeof FREIGHT_REASON_CODES)[number];

/** `SCAC/invoice_number`: a carrier numbers its own invoices. */
export const freightBusinessKey = (record: Pick<FreightInvoice, 'scac' | 'invoice_number'>): string =>
  `${record.scac}/${record.invoice_number}`;

/**
 * Hex SHA-256 of the profile id, SCAC and invoice number, joined by unit separators (which no field can hold): the
 * same invoice gives the same key from any file and any format, so a resubmission is a duplicate, not a second bill.
 */
export const freightIdempotencyKey = (record: Pick<FreightInvoice, 'scac' | 'invoice_number'>): string =>
  createHash('sha256').update(`freight\u001f${record.scac}\u001f${record.invoice_number}`).digest('hex');

export const freightProfile: Profile<FreightInvoice, FreightPrepared> = {
  id: 'freight',
  title: 'Carrier freight invoices',
  formats: FREIGHT_FORMATS,
  // Seed 000 sizes tasks at 750 line items; an invoice has about four charge lines, so 200 invoices a chunk.
  defaultConfig: { max_chunk_size: 200, profile_options: { ...DEFAULT_OPTIONS } },
  optionsSchema: freightOptionsSchema,
  references: { [RATE_KIND]: freightRates },
  ...stagedInput('freight', freightReaders),
  validate: validateFreight,
  prepareClassify: prepareFreight,
  classify: classifyFreight,
  idempotencyKey: freightIdempotencyKey,
  businessKey: freightBusinessKey,
  generator: {
    formats: GENERATOR_FORMATS,
    defects: DEFECTS,
    defaultDefects: DEFAULT_DEFECTS as Record<string, number>,
    generate: (out, opts) => generateFreightInvoices(out, opts),
    references: (out) => writeFreightReferences(out),
  },
};
