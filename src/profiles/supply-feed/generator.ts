/**
 * Synthetic supply feeds with planted defects and the outcome they must produce (the oracle), in X12, CSV, XLSX or
 * XML. Deterministic for a seed, and the same documents whatever the format (only the spelling of a bad value
 * differs), so a test can send one file's orders again in another format and see duplicates.
 *
 * One run writes TWO files, because ship notices and invoices are matched against purchase orders committed earlier:
 * - `purchaseOrdersFile(out)` (`orders.csv` -> `orders.pos.csv`): the purchase orders, all valid. Submit it first
 *   and wait for it: it commits every record.
 * - `out`: ship notices and invoices against those orders, some new orders that nothing refers to, and the planted
 *   defects. The returned oracle is for this file, on the assumption that the orders file was committed before.
 *
 * Order documents are derived from their number (a generator seeded by the run's seed and the order's index), so a
 * notice can be built against any order without holding the orders in memory: a million records take little memory.
 */
import { createWriteStream } from 'node:fs';
import { extname } from 'node:path';
import { finished } from 'node:stream/promises';
import { writeXlsx } from '../../formats/xlsx-write.ts';
import type { XlsxCellValue } from '../../formats/xlsx-write.ts';
import type { ExpectedOutcome, GenerateOptions } from '../types.ts';
import type { TABULAR_COLUMNS } from './readers.ts';
import type { DocType } from './schema.ts';
import { BatchedWriter, countHeld, csvCell, cumulativeRates, mulberry32, newOutcome } from '../generator-kit.ts';

export const SUPPLY_FORMATS = ['x12', 'csv', 'xlsx', 'xml'] as const;
export type SupplyFormat = (typeof SUPPLY_FORMATS)[number];

/** Every defect the generator plants; each is named after the reason code it is quarantined with (but `duplicate`). */
export const SUPPLY_DEFECTS = [
  'parse_error',
  'missing_field',
  'invalid_date',
  'invalid_quantity',
  'invalid_price',
  'unknown_po',
  'unmatched_line',
  'quantity_variance',
  'price_variance',
  /** Repeats a purchase order of the orders file verbatim: committed there, so a duplicate here. */
  'duplicate',
] as const;
export type SupplyDefect = (typeof SUPPLY_DEFECTS)[number];

export const DEFAULT_DEFECTS: Record<SupplyDefect, number> = {
  parse_error: 0.005,
  missing_field: 0.01,
  invalid_date: 0.01,
  invalid_quantity: 0.01,
  invalid_price: 0.005,
  unknown_po: 0.01,
  unmatched_line: 0.01,
  quantity_variance: 0.015,
  price_variance: 0.015,
  duplicate: 0.01,
};

/** Where the orders of a generated file go: `feed.edi` -> `feed.pos.edi`. */
export function purchaseOrdersFile(out: string): string {
  const ext = extname(out);
  return `${out.slice(0, out.length - ext.length)}.pos${ext}`;
}

/** How many orders the orders file of a run of `records` holds. */
export const purchaseOrderCount = (records: number): number => Math.ceil(records * 0.4);

const FILE_EXTENSIONS: Record<SupplyFormat, string> = { x12: '.edi', csv: '.csv', xlsx: '.xlsx', xml: '.xml' };
export const extensionFor = (format: SupplyFormat): string => FILE_EXTENSIONS[format];

const SUPPLIERS: ReadonlyArray<readonly [string, string]> = [
  ['GLX', 'GLOBEX SUPPLY GMBH'],
  ['INI', 'INITECH COMPONENTS'],
  ['UMB', 'UMBRELLA PACKAGING'],
  ['STK', 'STARK FASTENERS'],
  ['WNK', 'WONKA INGREDIENTS'],
  ['HOO', 'HOOLI ELECTRONICS'],
];
const BUYERS: ReadonlyArray<readonly [string, string]> = [
  ['MEGAMART', 'MEGAMART DC 7'],
  ['ACMERETAIL', 'ACME RETAIL'],
];
const CURRENCIES = ['USD', 'USD', 'USD', 'EUR', 'CAD'];
const UNITS = ['EA', 'EA', 'EA', 'EA', 'CS', 'CS', 'KG'] as const;

/** Bad values per format: X12 dates are CCYYMMDD in the file, so a bad one is spelt the way an X12 sender would. */
const BAD_DATES: Record<SupplyFormat, readonly string[]> = {
  x12: ['20230230', '20231301', '2023315', '230315', '20220631'],
  csv: ['2023-02-30', '03/15/2023', '2023-13-01', '15.03.2023', '2023-2-5'],
  xlsx: ['2023-02-30', '03/15/2023', '2023-13-01', '15.03.2023', '2023-2-5'],
  xml: ['2023-02-30', '03/15/2023', '2023-13-01', '15.03.2023', '2023-2-5'],
};
const BAD_QUANTITIES = ['-3', '0', 'abc', '1,5', '12 units', '1E3', 'N/A'];
const BAD_PRICES = ['-1.00', 'abc', '12,50', '$5.00', 'TBD'];

interface GenLine {
  line_no: string;
  sku: string;
  /** Quantity in tenths (every unit but KG is whole: a multiple of 10), or a bad value's text. */
  tenths: number;
  badQuantity?: string;
  unit: string;
  /** Price in cents (orders and invoices), or a bad value's text. */
  cents?: number;
  badPrice?: string;
  po_number?: string;
}

interface GenDoc {
  doc_type: DocType;
  doc_number: string;
  /** YYYY-MM-DD, or the bad value to write instead. */
  doc_date: string;
  badDate?: string;
  buyer: number;
  supplier: number;
  po_number: string;
  currency?: string;
  lines: GenLine[];
  /** Rendered so that the reader cannot make a record of it (format-specific). */
  parseError?: boolean;
  /** The document's second-row date (CSV/XLSX) or repeated <Date> (XML) when it is a parse error. */
  conflictingDate?: string;
}

type Rng = () => number;
const int = (rnd: Rng, lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = <T>(rnd: Rng, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const isoDate = (rnd: Rng): string => {
  const month = int(rnd, 1, 12);
  const day = int(rnd, 1, month === 2 ? 28 : [4, 6, 9, 11].includes(month) ? 30 : 31);
  return `${int(rnd, 2023, 2025)}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
};

/** Tenths as a decimal string: 120 -> `12`, 125 -> `12.5`. */
export const tenthsText = (tenths: number): string =>
  tenths % 10 === 0 ? String(tenths / 10) : `${Math.floor(tenths / 10)}.${tenths % 10}`;
/** Cents as a price with two decimals, as portals and EDI senders write them: 1650 -> `16.50`. */
export const centsText = (cents: number): string =>
  `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

const quantityText = (line: GenLine): string => line.badQuantity ?? tenthsText(line.tenths);
const priceText = (line: GenLine): string | undefined =>
  line.badPrice ?? (line.cents === undefined ? undefined : centsText(line.cents));

class Run {
  readonly seedTag: string;
  constructor(readonly seed: number) {
    // Numbers carry the seed, so files of different seeds never share a key: the ledger is global.
    this.seedTag = `${(seed >>> 0).toString(36).toUpperCase()}`;
  }

  poNumber(index: number): string {
    return `PO-${this.seedTag}-${String(index + 1).padStart(6, '0')}`;
  }

  /** Order `index` of the orders file: derived from the seed and the index alone. */
  order(index: number, minLines = 1): GenDoc {
    const rnd = mulberry32((Math.imul(this.seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
    return this.newOrder(rnd, this.poNumber(index), minLines);
  }

  newOrder(rnd: Rng, number: string, minLines = 1): GenDoc {
    const supplier = int(rnd, 0, SUPPLIERS.length - 1);
    const lineCount = int(rnd, minLines, Math.max(minLines, 5));
    const skus = new Set<string>();
    const lines: GenLine[] = [];
    while (lines.length < lineCount) {
      const sku = `${SUPPLIERS[supplier]![0]}-${int(rnd, 1000, 9999)}`;
      if (skus.has(sku)) continue;
      skus.add(sku);
      const unit = pick(rnd, UNITS);
      lines.push({
        line_no: String(lines.length + 1),
        sku,
        unit,
        tenths: unit === 'KG' ? int(rnd, 5, 5000) : int(rnd, 1, 500) * 10,
        cents: int(rnd, 50, 50_000),
      });
    }
    return {
      doc_type: 'purchase_order',
      doc_number: number,
      doc_date: isoDate(rnd),
      buyer: int(rnd, 0, BUYERS.length - 1),
      supplier,
      po_number: number,
      currency: pick(rnd, CURRENCIES),
      lines,
    };
  }
}

/** Some of an order's lines (at least one, in order), shipped or invoiced in full or in part. */
function followUp(rnd: Rng, order: GenDoc, docType: 'ship_notice' | 'invoice', number: string): GenDoc {
  let chosen = order.lines.filter(() => rnd() < 0.7);
  if (chosen.length === 0) chosen = [pick(rnd, order.lines)];
  const lines = chosen.map((l, i): GenLine => {
    // Whole units stay whole; the full ordered quantity is allowed (the tolerance is 0 by default: at the limit).
    const step = l.unit === 'KG' ? 1 : 10;
    const tenths = rnd() < 0.5 ? l.tenths : int(rnd, 1, l.tenths / step) * step;
    const line: GenLine = { line_no: String(i + 1), sku: l.sku, unit: l.unit, tenths };
    if (docType === 'invoice') {
      // The order's price, a discount, or up to exactly 1 % more (the default tolerance, still accepted).
      const r = rnd();
      line.cents =
        r < 0.6
          ? l.cents!
          : r < 0.8
            ? int(rnd, Math.ceil(l.cents! / 2), l.cents!)
            : l.cents! + Math.floor(l.cents! / 100);
    }
    return line;
  });
  return {
    doc_type: docType,
    doc_number: number,
    doc_date: isoDate(rnd),
    buyer: order.buyer,
    supplier: order.supplier,
    po_number: order.po_number,
    ...(docType === 'invoice' ? { currency: order.currency! } : {}),
    lines,
  };
}

/**
 * Writes `out` (notices, invoices, new orders, defects) and `purchaseOrdersFile(out)` (the orders they refer to), and
 * returns the oracle for `out` assuming the orders file was committed first.
 */
export async function generateSupplyFeed(out: string, opts: GenerateOptions): Promise<ExpectedOutcome> {
  const { records, seed } = opts;
  const format = (opts.format ?? SUPPLY_FORMATS[0]) as SupplyFormat;
  if (!SUPPLY_FORMATS.includes(format))
    throw new RangeError(`supply-feed generates ${SUPPLY_FORMATS.join(', ')}, not ${format}`);
  if (!Number.isSafeInteger(records) || records < 0) throw new RangeError(`records must be a count, got ${records}`);
  const thresholds = cumulativeRates(SUPPLY_DEFECTS, opts.defects);
  const run = new Run(seed);
  const orderCount = purchaseOrderCount(records);

  function* orders(): Generator<GenDoc> {
    for (let i = 0; i < orderCount; i++) yield run.order(i);
  }
  await writeDocuments(purchaseOrdersFile(out), format, orders());

  const outcome: ExpectedOutcome = newOutcome('supply-feed', records, seed, format);
  const rnd = mulberry32(seed ^ 0x5eed5eed);
  const usedDuplicates = new Set<number>();

  /** An order of the orders file no earlier duplicate has repeated (a CSV must not hold one document twice). */
  const unusedOrder = (): number | undefined => {
    if (usedDuplicates.size >= orderCount) return undefined;
    let i = int(rnd, 0, orderCount - 1);
    while (usedDuplicates.has(i)) i = (i + 1) % orderCount;
    usedDuplicates.add(i);
    return i;
  };

  function* documents(): Generator<GenDoc> {
    for (let n = 0; n < records; n++) {
      const u = rnd();
      let defect: SupplyDefect | undefined = SUPPLY_DEFECTS.find((_, d) => u < thresholds[d]!);
      const roll = rnd();
      const suffix = String(n + 1).padStart(7, '0');
      let doc: GenDoc;
      if (defect === 'duplicate') {
        const i = orderCount > 0 ? unusedOrder() : undefined;
        if (i !== undefined) {
          outcome.duplicates++;
          yield run.order(i);
          continue;
        }
        defect = undefined;
      }
      // Which kind of document: defects of matching need a notice or an invoice; a bad price needs a priced one;
      // a parse error is planted in a new order of at least two lines (a CSV conflict needs a second row).
      const matching = defect === 'unknown_po' || defect === 'unmatched_line' || defect === 'quantity_variance';
      let docType: DocType =
        defect === 'parse_error'
          ? 'purchase_order'
          : defect === 'price_variance'
            ? 'invoice'
            : defect === 'invalid_price'
              ? roll < 0.3
                ? 'purchase_order'
                : 'invoice'
              : matching
                ? roll < 0.5
                  ? 'ship_notice'
                  : 'invoice'
                : roll < 0.1
                  ? 'purchase_order'
                  : roll < 0.55
                    ? 'ship_notice'
                    : 'invoice';
      if (orderCount === 0) docType = 'purchase_order';
      if (docType === 'purchase_order') {
        doc = run.newOrder(rnd, `PO-${run.seedTag}-N${suffix}`, defect === 'parse_error' ? 2 : 1);
      } else {
        const prefix = docType === 'invoice' ? 'INV' : 'ASN';
        const order = run.order(int(rnd, 0, orderCount - 1));
        doc = followUp(rnd, order, docType, `${prefix}-${run.seedTag}-${suffix}`);
        // A tenth of the clean ship notices cover a second order of the same supplier.
        if (defect === undefined && docType === 'ship_notice' && rnd() < 0.1) {
          const other = run.order(int(rnd, 0, orderCount - 1));
          if (other.supplier === order.supplier && other.po_number !== order.po_number) {
            const more = followUp(rnd, other, 'ship_notice', doc.doc_number).lines;
            doc.lines = [
              ...doc.lines.map((l) => ({ ...l, po_number: order.po_number })),
              ...more.map((l, i) => ({ ...l, line_no: String(doc.lines.length + i + 1), po_number: other.po_number })),
            ];
          }
        }
      }
      plant(rnd, doc, defect, format, run, suffix);
      if (defect === undefined) outcome.committed++;
      else countHeld(outcome, defect);
      yield doc;
    }
  }
  await writeDocuments(out, format, documents());
  return outcome;
}

/** Changes a clean document so that it carries exactly `defect`. */
function plant(
  rnd: Rng,
  doc: GenDoc,
  defect: SupplyDefect | undefined,
  format: SupplyFormat,
  run: Run,
  suffix: string,
): void {
  const line = pick(rnd, doc.lines);
  switch (defect) {
    case undefined:
    case 'duplicate':
      return;
    case 'parse_error':
      doc.parseError = true;
      doc.conflictingDate = doc.doc_date.startsWith('2024') ? '2025-01-15' : '2024-01-15';
      return;
    case 'missing_field':
      line.sku = '';
      return;
    case 'invalid_date':
      doc.badDate = pick(rnd, BAD_DATES[format]);
      return;
    case 'invalid_quantity':
      line.badQuantity = pick(rnd, BAD_QUANTITIES);
      return;
    case 'invalid_price':
      line.badPrice = pick(rnd, BAD_PRICES);
      return;
    case 'unknown_po':
      // A number never issued: no order file of any seed has an `X` order.
      doc.po_number = `PO-${run.seedTag}-X${suffix}`;
      return;
    case 'unmatched_line':
      doc.lines.push({
        line_no: String(doc.lines.length + 1),
        sku: `ZZ-${int(rnd, 10000, 99999)}`,
        unit: 'EA',
        tenths: int(rnd, 1, 20) * 10,
        ...(doc.doc_type === 'invoice' ? { cents: int(rnd, 100, 5000) } : {}),
      });
      return;
    case 'quantity_variance': {
      // Over the ordered quantity by at least one unit: the followed-up line shipped or invoiced at most what was
      // ordered, so this is the order's quantity plus 1 to 50 units.
      const order = run.order(Number(doc.po_number.slice(doc.po_number.lastIndexOf('-') + 1)) - 1);
      const ordered = order.lines.find((l) => l.sku === line.sku)!;
      const step = line.unit === 'KG' ? 1 : 10;
      line.tenths = ordered.tenths + int(rnd, 1, 50) * step;
      return;
    }
    case 'price_variance': {
      const order = run.order(Number(doc.po_number.slice(doc.po_number.lastIndexOf('-') + 1)) - 1);
      const ordered = order.lines.find((l) => l.sku === line.sku)!.cents!;
      // Strictly more than 1 % above: floor(c/100) + 1 cents is more than c/100.
      line.cents = ordered + Math.floor(ordered / 100) + 1 + int(rnd, 0, Math.floor(ordered / 10));
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

async function writeDocuments(file: string, format: SupplyFormat, docs: Iterable<GenDoc>): Promise<void> {
  if (format === 'xlsx') {
    await writeXlsx(file, [{ name: 'Lines', rows: xlsxRows(docs) }]);
    return;
  }
  const stream = createWriteStream(file);
  const writer = new BatchedWriter(stream);
  try {
    const render = format === 'x12' ? x12Text(docs) : format === 'csv' ? csvText(docs) : xmlText(docs);
    for (const text of render) await writer.write(text);
    await writer.flush();
    stream.end();
    await finished(stream);
  } catch (err) {
    stream.destroy();
    throw err;
  } finally {
    writer.release();
  }
}

const EXPORT_COLUMNS = [
  'doc_type',
  'doc_number',
  'po_number',
  'supplier_id',
  'buyer',
  'doc_date',
  'currency',
  'line_no',
  'sku',
  'quantity',
  'unit',
  'unit_price',
] as const satisfies ReadonlyArray<(typeof TABULAR_COLUMNS)['required' | 'optional'][number]>;

/** One export row per line, as text. A parse error's second row gives another date (the rows of one document disagree). */
function* tabularRows(doc: GenDoc): Generator<Record<(typeof EXPORT_COLUMNS)[number], string>> {
  for (const [i, line] of doc.lines.entries()) {
    yield {
      doc_type: doc.doc_type,
      doc_number: doc.doc_number,
      po_number: line.po_number ?? doc.po_number,
      supplier_id: SUPPLIERS[doc.supplier]![0],
      buyer: BUYERS[doc.buyer]![0],
      doc_date: i === 1 && doc.conflictingDate !== undefined ? doc.conflictingDate : (doc.badDate ?? doc.doc_date),
      currency: doc.currency ?? '',
      line_no: line.line_no,
      sku: line.sku,
      quantity: quantityText(line),
      unit: line.unit,
      unit_price: priceText(line) ?? '',
    };
  }
}

function* csvText(docs: Iterable<GenDoc>): Generator<string> {
  yield `${EXPORT_COLUMNS.join(',')}\n`;
  for (const doc of docs) {
    for (const row of tabularRows(doc)) yield `${EXPORT_COLUMNS.map((c) => csvCell(row[c])).join(',')}\n`;
  }
}

/** XLSX rows: good dates as date cells, good quantities and prices as numbers, anything bad as the text it is. */
function* xlsxRows(docs: Iterable<GenDoc>): Generator<XlsxCellValue[]> {
  yield [...EXPORT_COLUMNS];
  for (const doc of docs) {
    for (const row of tabularRows(doc)) {
      yield EXPORT_COLUMNS.map((c): XlsxCellValue => {
        const value = row[c];
        if (c === 'doc_date' && /^\d{4}-\d{2}-\d{2}$/.test(value) && value === doc.doc_date) {
          const [y, m, d] = value.split('-').map(Number);
          return new Date(Date.UTC(y!, m! - 1, d!));
        }
        if ((c === 'quantity' || c === 'unit_price') && /^\d+(\.\d+)?$/.test(value)) return Number(value);
        return value;
      });
    }
  }
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const XML_ELEMENTS: Record<DocType, string> = {
  purchase_order: 'PurchaseOrder',
  ship_notice: 'ShipNotice',
  invoice: 'Invoice',
};

function* xmlText(docs: Iterable<GenDoc>): Generator<string> {
  yield '<?xml version="1.0" encoding="UTF-8"?>\n<Documents>\n';
  for (const doc of docs) {
    const el = XML_ELEMENTS[doc.doc_type];
    const e = (name: string, value: string | undefined): string =>
      value === undefined ? '' : `<${name}>${xmlEscape(value)}</${name}>`;
    let out = `  <${el}>\n    ${e('Number', doc.doc_number)}${e('Date', doc.badDate ?? doc.doc_date)}`;
    if (doc.conflictingDate !== undefined) out += e('Date', doc.conflictingDate);
    out += `${e('SupplierId', SUPPLIERS[doc.supplier]![0])}${e('Buyer', BUYERS[doc.buyer]![0])}`;
    if (doc.doc_type !== 'purchase_order') out += e('PoNumber', doc.po_number);
    out += `${e('Currency', doc.currency)}\n`;
    for (const line of doc.lines) {
      out += `    <Line>${e('LineNo', line.line_no)}${e('Sku', line.sku)}${e('Quantity', quantityText(line))}`;
      out += `${e('Unit', line.unit)}${e('UnitPrice', priceText(line))}`;
      if (line.po_number !== undefined) out += e('PoNumber', line.po_number);
      out += '</Line>\n';
    }
    yield `${out}  </${el}>\n`;
  }
  yield '</Documents>\n';
}

/** ISO date to CCYYMMDD; a bad value is written as it is. */
const x12Date = (doc: GenDoc): string => doc.badDate ?? doc.doc_date.replaceAll('-', '');
const GROUP_IDS: Record<DocType, { setId: string; functionalId: string }> = {
  purchase_order: { setId: '850', functionalId: 'PO' },
  ship_notice: { setId: '856', functionalId: 'SH' },
  invoice: { setId: '810', functionalId: 'IN' },
};
/** Sets per functional group at most; a group is held in memory until its GE can be written. */
const MAX_SETS_PER_GROUP = 500;

/** A segment from its id and elements, without trailing empty elements (as senders write them). */
const seg = (...elements: Array<string | undefined>): string => {
  const out = elements.map((e) => e ?? '');
  while (out.length > 1 && out.at(-1) === '') out.pop();
  return out.join('*');
};

/** The segments of one set between ST and SE. */
function x12Body(doc: GenDoc): string[] {
  const supplier = SUPPLIERS[doc.supplier]!;
  const buyer = BUYERS[doc.buyer]!;
  const parties = [`N1*BY*${buyer[1]}*92*${buyer[0]}`, `N1*SE*${supplier[1]}*92*${supplier[0]}`];
  // Product ids as qualifier/id pairs; a line without a SKU has none.
  const ids = (line: GenLine): string[] => (line.sku === '' ? [] : ['VP', line.sku]);
  if (doc.doc_type === 'purchase_order') {
    return [
      `BEG*00*SA*${doc.doc_number}**${x12Date(doc)}`,
      `CUR*BY*${doc.currency}`,
      ...parties,
      ...doc.lines.map((l) => seg('PO1', l.line_no, quantityText(l), l.unit, priceText(l), 'PE', ...ids(l))),
      `CTT*${doc.lines.length}`,
    ];
  }
  if (doc.doc_type === 'invoice') {
    let total = 0;
    for (const l of doc.lines) {
      if (l.badQuantity === undefined && l.badPrice === undefined) total += Math.round((l.tenths * l.cents!) / 10);
    }
    return [
      `BIG*${x12Date(doc)}*${doc.doc_number}**${doc.po_number}`,
      `CUR*SE*${doc.currency}`,
      ...parties,
      ...doc.lines.map((l) => seg('IT1', l.line_no, quantityText(l), l.unit, priceText(l), 'PE', ...ids(l))),
      `TDS*${total}`,
      `CTT*${doc.lines.length}`,
    ];
  }
  const segments = [`BSN*00*${doc.doc_number}*${x12Date(doc)}*0800`, 'HL*1**S', ...parties];
  let hl = 1;
  let orderHl = 0;
  let currentPo: string | undefined;
  for (const l of doc.lines) {
    const po = l.po_number ?? doc.po_number;
    if (po !== currentPo) {
      orderHl = ++hl;
      segments.push(`HL*${orderHl}*1*O`, `PRF*${po}`);
      currentPo = po;
    }
    segments.push(`HL*${++hl}*${orderHl}*I`, seg('LIN', l.line_no, ...ids(l)), `SN1**${quantityText(l)}*${l.unit}`);
  }
  segments.push(`CTT*${hl}`);
  return segments;
}

function* x12Text(docs: Iterable<GenDoc>): Generator<string> {
  // A fixed stamp: the same seed writes the same bytes.
  const stamp = { date: '250102', time: '0930' };
  const pad = (s: string, n: number): string => s.padEnd(n, ' ');
  yield `ISA*00*${pad('', 10)}*00*${pad('', 10)}*ZZ*${pad('SUPPLYHUB', 15)}*ZZ*${pad('SLUICE', 15)}*${stamp.date}*${stamp.time}*^*00501*000000001*0*P*:~\n`;
  let groups = 0;
  let group: { type: DocType; sets: string[] } | undefined;
  function* closeGroup(): Generator<string> {
    if (group === undefined) return;
    groups += 1;
    const { functionalId } = GROUP_IDS[group.type];
    yield `GS*${functionalId}*SUPPLYHUB*SLUICE*20250102*0930*${groups}*X*005010~\n`;
    yield* group.sets;
    yield `GE*${group.sets.length}*${groups}~\n`;
    group = undefined;
  }
  for (const doc of docs) {
    if (group !== undefined && (group.type !== doc.doc_type || group.sets.length >= MAX_SETS_PER_GROUP)) {
      yield* closeGroup();
    }
    group ??= { type: doc.doc_type, sets: [] };
    const control = String(group.sets.length + 1).padStart(4, '0');
    const body = x12Body(doc);
    // SE01 counts ST and SE too; a parse error's is one off, which breaks this set alone.
    const count = body.length + 2 + (doc.parseError ? 1 : 0);
    const segments = [`ST*${GROUP_IDS[doc.doc_type].setId}*${control}`, ...body, `SE*${count}*${control}`];
    group.sets.push(segments.map((s) => `${s}~\n`).join(''));
  }
  yield* closeGroup();
  yield `IEA*${groups}*000000001~\n`;
}
