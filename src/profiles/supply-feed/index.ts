/**
 * Supply-chain feeds (seed 003): purchase orders, ship notices (ASNs) and invoices from EDI X12 850/856/810, supplier
 * portal CSV and XLSX exports, XML, or a list of HTTP(S) feed URLs fetched while planning. Orders are committed as the
 * reference; notices and invoices are matched line by line against the committed orders they name, and held for
 * review on an unknown order, an unmatched line, or a quantity or price variance beyond the tolerances.
 */
import { createHash } from 'node:crypto';
import { stagedInput } from '../staged-input.ts';
import type { Profile } from '../types.ts';
import {
  DEFAULT_OPTIONS,
  HOLD_REASON_CODES,
  SUPPLY_FEED_PROFILE_ID,
  classifySupplyDocument,
  prepareSupplyClassify,
  supplyFeedOptionsSchema,
} from './classify.ts';
import type { PreparedOrders } from './classify.ts';
import { DEFAULT_DEFECTS, SUPPLY_DEFECTS, SUPPLY_FORMATS, generateSupplyFeed } from './generator.ts';
import { supplyFeedReaders } from './readers.ts';
import { VALIDATION_REASON_CODES, validateSupplyDocument } from './schema.ts';
import type { SupplyDocument } from './schema.ts';

export type { SupplyDocument, SupplyLine } from './schema.ts';

/** Every reason code a supply document can be quarantined with: parse errors, validation, then matching holds. */
export const SUPPLY_FEED_REASON_CODES = ['parse_error', ...VALIDATION_REASON_CODES, ...HOLD_REASON_CODES] as const;

/** `<doc_type>/<supplier_id>/<doc_number>`: a supplier numbers its own documents, one series per kind. */
export const supplyBusinessKey = (doc: Pick<SupplyDocument, 'doc_type' | 'supplier_id' | 'doc_number'>): string =>
  `${doc.doc_type}/${doc.supplier_id}/${doc.doc_number}`;

/**
 * Hex SHA-256 of the profile id and the business key, joined by unit separators (which no field holds): the same
 * document is the same key whatever file or format it came in, so sending an order again as CSV after its X12 is a
 * duplicate, not a second commit.
 */
export const supplyIdempotencyKey = (doc: Pick<SupplyDocument, 'doc_type' | 'supplier_id' | 'doc_number'>): string =>
  createHash('sha256')
    .update([SUPPLY_FEED_PROFILE_ID, doc.doc_type, doc.supplier_id, doc.doc_number].join('\u001f'))
    .digest('hex');

export const supplyFeedProfile: Profile<SupplyDocument, PreparedOrders> = {
  id: SUPPLY_FEED_PROFILE_ID,
  title: 'Supply-chain feed (purchase orders, ship notices, invoices)',
  formats: ['x12', 'csv', 'xlsx', 'xml', 'feed-list'],
  // A document is a few hundred bytes to a few KB with its lines; 500 documents a chunk keeps each chunk's
  // one ledger query for orders small while orchestration stays a small share of the work.
  defaultConfig: { max_chunk_size: 500, profile_options: { ...DEFAULT_OPTIONS } },
  optionsSchema: supplyFeedOptionsSchema,
  ...stagedInput(SUPPLY_FEED_PROFILE_ID, supplyFeedReaders),
  validate: (fields) => validateSupplyDocument(fields),
  prepareClassify: (records, lookup) => prepareSupplyClassify(records, lookup),
  classify: classifySupplyDocument,
  idempotencyKey: supplyIdempotencyKey,
  businessKey: supplyBusinessKey,
  generator: {
    formats: SUPPLY_FORMATS,
    defects: SUPPLY_DEFECTS,
    defaultDefects: DEFAULT_DEFECTS,
    generate: (out, opts) => generateSupplyFeed(out, opts),
  },
};
