/**
 * One reader per input format, each mapping its format's shape onto the same source fields (see `SupplyDocument`):
 * `{ doc_type, doc_number, doc_date, buyer?, supplier_id, po_number?, currency?, lines: [{ line_no, sku, quantity,
 * unit, unit_price?, po_number? }] }`, values as the text of the file. One staged record per document, never split.
 *
 * What each format cannot express as a field value becomes a `parse_error` record with located issues (an X12 set
 * whose SE count is wrong, two rows of one document that disagree on its date), so the rest of the file goes on.
 * A value that is there but wrong (a date `20240230`, a quantity `abc`) is kept as text in its field instead, so that
 * validation files it under the same reason whatever the format, and a reviewer can amend it.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { groupContiguous, readCsvRecords } from '../../formats/csv-rows.ts';
import { detectFormat } from '../../formats/detect.ts';
import type { InputFormat } from '../../formats/detect.ts';
import { FeedError, fetchFeeds, readFeedList } from '../../formats/http-feed.ts';
import type { FetchFeedsOptions, FetchedFeed } from '../../formats/http-feed.ts';
import type { StagedRecord } from '../../formats/staged.ts';
import { UBL_NAMESPACES, mapUbl } from '../../formats/ubl.ts';
import { readXlsxRecords } from '../../formats/xlsx.ts';
import { children, readXmlDocuments } from '../../formats/xml.ts';
import type { XmlElement } from '../../formats/xml.ts';
import { readX12 } from '../../formats/x12.ts';
import type { X12TransactionSet } from '../../formats/x12.ts';
import { mapTransactionSet } from '../../formats/x12-sets.ts';
import type { X12Party, X12ProductIds } from '../../formats/x12-sets.ts';
import type { RecordReader, RecordReaders } from '../staged-input.ts';
import { InputError } from '../types.ts';
import type { FieldIssue, InputOptions, RecordLocation, SourceFields } from '../types.ts';
import type { DocType } from './schema.ts';

// ---------------------------------------------------------------------------------------------------------------
// X12: 850 purchase order, 856 ship notice, 810 invoice

const X12_DOC_TYPES: Readonly<Record<string, DocType>> = {
  '850': 'purchase_order',
  '856': 'ship_notice',
  '810': 'invoice',
};

/** Product id qualifiers tried for the SKU, in order: vendor part, stock keeping unit, buyer part, UPC. */
export const SKU_QUALIFIERS = ['VP', 'SK', 'BP', 'UP'] as const;
/** N1 entity codes that name the supplier: selling party, vendor, supplier. */
const SUPPLIER_QUALIFIERS = ['SE', 'VN', 'SU'];
const BUYER_QUALIFIER = 'BY';

const skuOf = (ids: X12ProductIds): string | undefined =>
  SKU_QUALIFIERS.map((q) => ids[q]).find((id) => id !== undefined);

const partyId = (parties: readonly X12Party[], qualifiers: readonly string[]): string | undefined => {
  for (const q of qualifiers) {
    const party = parties.find((p) => p.qualifier === q);
    if (party !== undefined) return party.id ?? party.name;
  }
  return undefined;
};

/**
 * Canonical paths of the mapper's fields, per set: an issue on one of these (a value that is not a date or a number)
 * puts the raw value in the canonical field for validation to judge; any other issue is structural (a missing
 * segment, a count that disagrees) and makes the set a `parse_error`.
 */
const X12_FIELD_PATHS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  '850': { poNumber: 'doc_number', poDate: 'doc_date' },
  '810': { invoiceNumber: 'doc_number', invoiceDate: 'doc_date' },
  '856': { shipmentId: 'doc_number', shipDate: 'doc_date' },
};
const X12_LINE_FIELDS: Readonly<Record<string, string>> = {
  quantity: 'quantity',
  quantityShipped: 'quantity',
  unitPrice: 'unit_price',
};

/** An 850, 856 or 810 as canonical source fields, or the issues that make it a parse error. */
export function x12Document(set: X12TransactionSet): { fields: SourceFields; parseIssues?: FieldIssue[] } {
  const docType = X12_DOC_TYPES[set.setId];
  if (docType === undefined) {
    return {
      fields: { transaction_set: set.setId },
      parseIssues: [
        {
          path: '',
          code: 'unsupported_transaction_set',
          message: `transaction set ${set.setId} is not a supply document: the supply-feed profile reads 850, 856 and 810 (${set.where})`,
          value: set.setId,
        },
      ],
    };
  }
  const { record, issues } = mapTransactionSet(set);
  const { senderId, receiverId } = set.envelope;
  // An order goes from the buyer to the supplier; a notice or an invoice comes back the other way.
  const [buyerSide, supplierSide] = docType === 'purchase_order' ? [senderId, receiverId] : [receiverId, senderId];
  const fields: SourceFields & { lines: Array<Record<string, string>> } = { doc_type: docType, lines: [] };
  const put = (target: Record<string, unknown>, key: string, value: string | undefined): void => {
    if (value !== undefined) target[key] = value;
  };
  /** A line of an order or invoice (850 PO1, 810 IT1) as source fields. */
  const orderedLine = (
    l: { lineNo?: string; productIds: X12ProductIds; quantity?: string; unit?: string; unitPrice?: string },
    i: number,
  ) => {
    const line: Record<string, string> = { line_no: l.lineNo ?? String(i + 1) };
    put(line, 'sku', skuOf(l.productIds));
    put(line, 'quantity', l.quantity);
    put(line, 'unit', l.unit);
    put(line, 'unit_price', l.unitPrice);
    return line;
  };

  if (record?.type === '850') {
    put(fields, 'doc_number', record.poNumber);
    put(fields, 'doc_date', record.poDate);
    fields.buyer = partyId(record.parties, [BUYER_QUALIFIER]) ?? buyerSide;
    fields.supplier_id = partyId(record.parties, SUPPLIER_QUALIFIERS) ?? supplierSide;
    fields.currency = record.currency;
    fields.lines.push(...record.lines.map(orderedLine));
  } else if (record?.type === '810') {
    put(fields, 'doc_number', record.invoiceNumber);
    put(fields, 'doc_date', record.invoiceDate);
    fields.buyer = partyId(record.parties, [BUYER_QUALIFIER]) ?? buyerSide;
    fields.supplier_id = partyId(record.parties, SUPPLIER_QUALIFIERS) ?? supplierSide;
    put(fields, 'po_number', record.poNumber);
    fields.currency = record.currency;
    fields.lines.push(...record.lines.map(orderedLine));
  } else if (record?.type === '856') {
    put(fields, 'doc_number', record.shipmentId);
    put(fields, 'doc_date', record.shipDate);
    fields.buyer = partyId(record.parties, [BUYER_QUALIFIER]) ?? buyerSide;
    fields.supplier_id = partyId(record.parties, SUPPLIER_QUALIFIERS) ?? supplierSide;
    put(fields, 'po_number', record.poNumbers[0] ?? record.lines[0]?.poNumber);
    record.lines.forEach((l, i) => {
      const line: Record<string, string> = { line_no: l.lineNo ?? String(i + 1) };
      put(line, 'sku', skuOf(l.productIds));
      put(line, 'quantity', l.quantityShipped);
      put(line, 'unit', l.unit);
      put(line, 'po_number', l.poNumber);
      fields.lines.push(line);
    });
  }

  const structural: FieldIssue[] = [];
  const fieldPaths = X12_FIELD_PATHS[set.setId] ?? {};
  for (const issue of issues) {
    const lineMatch = /^lines\[(\d+)\]\.(\w+)$/.exec(issue.path);
    const lineField = lineMatch ? X12_LINE_FIELDS[lineMatch[2]!] : undefined;
    const docField = fieldPaths[issue.path];
    const valueIssue = issue.code === 'invalid_date' || issue.code === 'invalid_number';
    if (issue.code === 'missing_element' && (docField !== undefined || lineField !== undefined)) continue;
    if (valueIssue && typeof issue.value === 'string' && docField !== undefined) {
      fields[docField] = issue.value;
    } else if (valueIssue && typeof issue.value === 'string' && lineField !== undefined) {
      const line = fields.lines[Number(lineMatch![1])];
      if (line !== undefined) line[lineField] = issue.value;
      else structural.push(issue);
    } else {
      structural.push(issue);
    }
  }
  return structural.length > 0 ? { fields, parseIssues: structural } : { fields };
}

async function* readX12Documents(file: string, fileName: string): AsyncGenerator<StagedRecord> {
  for await (const item of readX12(file, fileName)) {
    const location: RecordLocation = {
      file: fileName,
      line: item.line,
      byteOffset: item.byteOffset,
      position: item.where,
    };
    if (item.kind === 'error') {
      yield {
        fields: { ...(item.setId !== undefined ? { transaction_set: item.setId } : {}) },
        location,
        parseIssues: [{ path: '', code: 'invalid_transaction_set', message: item.message }],
      };
      continue;
    }
    yield { ...x12Document(item), location };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// CSV and XLSX: supplier portal exports, one row per line, a document's rows together

/** Columns a supplier portal export must have, and the ones it may have. Any other column refuses the file. */
export const TABULAR_COLUMNS = {
  required: [
    'doc_type',
    'doc_number',
    'po_number',
    'supplier_id',
    'doc_date',
    'line_no',
    'sku',
    'quantity',
    'unit',
    'unit_price',
  ],
  optional: ['buyer', 'currency'],
} as const;
/** Columns that belong to the document: every row of one document must say the same. */
const DOCUMENT_COLUMNS = ['doc_type', 'doc_number', 'supplier_id', 'doc_date', 'buyer', 'currency'] as const;
const LINE_COLUMNS = ['line_no', 'sku', 'quantity', 'unit', 'unit_price', 'po_number'] as const;

interface TabularRow {
  fields: Record<string, string>;
  location: RecordLocation;
  /** `row 12` (CSV) or `sheet "Lines" row 12` (XLSX). */
  position: string;
}

function checkColumns(fileName: string, columns: readonly string[], position?: string): void {
  const known = new Set<string>([...TABULAR_COLUMNS.required, ...TABULAR_COLUMNS.optional]);
  const unknown = columns.filter((c) => !known.has(c));
  const missing = TABULAR_COLUMNS.required.filter((c) => !columns.includes(c));
  const problems = [
    unknown.length > 0 ? `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}` : '',
    missing.length > 0 ? `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new InputError(
      `${fileName}: the header has ${problems.join(' and ')} (a supply export has ${TABULAR_COLUMNS.required.join(', ')}; optionally ${TABULAR_COLUMNS.optional.join(', ')})`,
      { file: fileName, line: 1, ...(position !== undefined ? { position } : {}) },
      'schema_violation',
    );
  }
}

/** The key that holds a document's rows together: type, supplier and number, as the business key has them. */
const documentKeyOf = (row: TabularRow): string =>
  [row.fields.doc_type?.trim().toLowerCase(), row.fields.supplier_id?.trim(), row.fields.doc_number?.trim()].join('/');

/** One document from its rows: document columns from the first row (the others must agree), a line per row. */
export function tabularDocument(rows: readonly TabularRow[]): StagedRecord {
  const first = rows[0]!;
  const last = rows.at(-1)!;
  const fields: SourceFields & { lines: Array<Record<string, string>> } = { lines: [] };
  for (const column of DOCUMENT_COLUMNS) {
    if (column in first.fields) fields[column] = first.fields[column];
  }
  fields.po_number = first.fields.po_number;
  const parseIssues: FieldIssue[] = [];
  for (const row of rows) {
    const line: Record<string, string> = {};
    for (const column of LINE_COLUMNS) line[column] = row.fields[column] ?? '';
    fields.lines.push(line);
    for (const column of DOCUMENT_COLUMNS) {
      const value = row.fields[column];
      if (row !== first && value !== undefined && value.trim() !== (first.fields[column] ?? '').trim()) {
        parseIssues.push({
          path: column,
          code: 'conflicting_rows',
          message: `${row.position} says ${column} ${JSON.stringify(value)}, the document's first ${first.position} says ${JSON.stringify(first.fields[column])}`,
          value,
        });
      }
    }
  }
  // `line 2-4`, `sheet "Lines" row 2-4`: the first row's position and the last row's number.
  const position = rows.length === 1 ? first.position : `${first.position}-${/\d+$/.exec(last.position)?.[0] ?? ''}`;
  const location: RecordLocation = { ...first.location, position };
  return parseIssues.length > 0 ? { fields, location, parseIssues } : { fields, location };
}

async function* tabularDocuments(rows: AsyncIterable<TabularRow>, fileName: string): AsyncGenerator<StagedRecord> {
  const groups = groupContiguous(rows, documentKeyOf, (row) => row.position, {
    file: fileName,
    noun: 'document',
    location: (row) => ({ ...row.location, position: row.position }),
  });
  for await (const group of groups) yield tabularDocument(group);
}

async function* readCsvDocuments(file: string, fileName: string, input: InputOptions): AsyncGenerator<StagedRecord> {
  let checked = false;
  async function* rows(): AsyncGenerator<TabularRow> {
    for await (const row of readCsvRecords(file, fileName, {
      ...(input.delimiter !== undefined ? { delimiter: input.delimiter } : {}),
      ...(input.encoding !== undefined ? { encoding: input.encoding } : {}),
    })) {
      if (!checked) {
        checkColumns(fileName, Object.keys(row.fields));
        checked = true;
      }
      yield {
        fields: row.fields,
        location: {
          file: fileName,
          line: row.line,
          ...(row.byteOffset !== undefined ? { byteOffset: row.byteOffset } : {}),
        },
        position: row.position,
      };
    }
  }
  yield* tabularDocuments(rows(), fileName);
}

async function* readXlsxDocuments(file: string, fileName: string, input: InputOptions): AsyncGenerator<StagedRecord> {
  let checked = false;
  async function* rows(): AsyncGenerator<TabularRow> {
    for await (const row of readXlsxRecords(file, fileName, input.sheet !== undefined ? { sheet: input.sheet } : {})) {
      if (!checked) {
        checkColumns(fileName, Object.keys(row.fields), row.position.replace(/ row \d+$/, ''));
        checked = true;
      }
      yield { fields: row.fields, location: { file: fileName, position: row.position }, position: row.position };
    }
  }
  yield* tabularDocuments(rows(), fileName);
}

// ---------------------------------------------------------------------------------------------------------------
// XML: <Documents> of <PurchaseOrder>, <ShipNotice> and <Invoice>; a UBL 2.1 <Invoice> is read as an invoice too

const XML_DOC_TYPES: Readonly<Record<string, DocType>> = {
  PurchaseOrder: 'purchase_order',
  ShipNotice: 'ship_notice',
  Invoice: 'invoice',
};
/** Element -> field of a document, and of a `<Line>`. */
export const XML_DOCUMENT_FIELDS: Readonly<Record<string, string>> = {
  Number: 'doc_number',
  Date: 'doc_date',
  Buyer: 'buyer',
  SupplierId: 'supplier_id',
  PoNumber: 'po_number',
  Currency: 'currency',
};
export const XML_LINE_FIELDS: Readonly<Record<string, string>> = {
  LineNo: 'line_no',
  Sku: 'sku',
  Quantity: 'quantity',
  Unit: 'unit',
  UnitPrice: 'unit_price',
  PoNumber: 'po_number',
};

/**
 * The fields of one element's children by the map; a child not in the map keeps its own name (so validation reports
 * it as an unknown field rather than it vanishing), and a repeated one is a parse issue.
 */
function xmlFields(
  el: XmlElement,
  map: Readonly<Record<string, string>>,
  path: string,
  issues: FieldIssue[],
  skip: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of el.children) {
    if (c.name === skip) continue;
    const field = map[c.name] ?? c.name;
    if (Object.hasOwn(out, field)) {
      issues.push({
        path: path === '' ? field : `${path}.${field}`,
        code: 'repeated_element',
        message: `<${c.name}> appears twice in <${el.name}> (line ${c.line}, column ${c.column})`,
        value: c.text,
      });
      continue;
    }
    out[field] = c.text;
  }
  return out;
}

/** A `<PurchaseOrder>`, `<ShipNotice>` or `<Invoice>` of the simple shape as canonical source fields. */
export function xmlDocument(el: XmlElement): { fields: SourceFields; parseIssues?: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const fields: SourceFields = {
    doc_type: XML_DOC_TYPES[el.name] ?? el.name,
    ...xmlFields(el, XML_DOCUMENT_FIELDS, '', issues, 'Line'),
    lines: children(el, 'Line').map((line, i) => xmlFields(line, XML_LINE_FIELDS, `lines[${i}]`, issues, '')),
  };
  return issues.length > 0 ? { fields, parseIssues: issues } : { fields };
}

/** UBL fields that hold a canonical value: an issue there keeps the raw value for validation; others are parse errors. */
const UBL_VALUE_PATHS =
  /^(id|issueDate|documentCurrency|lines\[\d+\]\.(id|quantity|unitCode|priceAmount|sellersItemId))$/;

/** A UBL 2.1 invoice as canonical source fields: the seller's item id is the SKU, the order reference the PO. */
export function ublInvoice(el: XmlElement): { fields: SourceFields; parseIssues?: FieldIssue[] } {
  const { document, issues } = mapUbl(el);
  if (document === undefined || document.documentType !== 'Invoice') {
    return {
      fields: { doc_type: el.name },
      parseIssues: [
        ...issues,
        ...(document
          ? [
              {
                path: '',
                code: 'unsupported_document',
                message: `a UBL ${document.documentType} is not a supply document`,
              },
            ]
          : []),
      ],
    };
  }
  const party = (p: { id?: string; endpointId?: string; name?: string }): string | undefined =>
    p.id ?? p.endpointId ?? p.name;
  const fields: SourceFields = {
    doc_type: 'invoice',
    doc_number: document.id,
    doc_date: document.issueDate,
    ...(party(document.customer) !== undefined ? { buyer: party(document.customer) } : {}),
    supplier_id: party(document.supplier) ?? '',
    ...(document.orderReference !== undefined ? { po_number: document.orderReference } : {}),
    currency: document.documentCurrency,
    lines: document.lines.map((l) => ({
      line_no: l.id,
      sku: l.sellersItemId ?? '',
      quantity: l.quantity,
      unit: l.unitCode ?? '',
      unit_price: l.priceAmount ?? '',
    })),
  };
  const structural = issues.filter((i) => !UBL_VALUE_PATHS.test(i.path));
  return structural.length > 0 ? { fields, parseIssues: structural } : { fields };
}

async function* readXmlSupplyDocuments(file: string, fileName: string): AsyncGenerator<StagedRecord> {
  for await (const doc of readXmlDocuments(file, fileName, { documentElements: Object.keys(XML_DOC_TYPES) })) {
    const location: RecordLocation = {
      file: fileName,
      line: doc.line,
      byteOffset: doc.byteStart,
      position: doc.position,
    };
    const el = doc.element;
    const mapped = el.name === 'Invoice' && el.ns === UBL_NAMESPACES.Invoice ? ublInvoice(el) : xmlDocument(el);
    yield { ...mapped, location };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Feed lists: a text file of HTTP(S) URLs, each a document file in one of the formats above

/** How feeds are fetched while planning; tests shorten the timeouts. */
export const feedFetchOptions: FetchFeedsOptions = {
  concurrency: 4,
  timeoutMs: 30_000,
  retries: 3,
  // A feed is one supplier's documents for a period; 1 GiB is far beyond any, and stops a runaway response.
  maxBytes: 1 << 30,
};

/**
 * Fetches the listed feeds (while planning, which runs as an activity that heartbeats) into a scratch folder next to
 * the input in the blob store, reads each by its detected format, and stages all their records in list order with
 * the URL as each record's file. The scratch folder is removed once its records are staged. A feed that still fails
 * after its retries fails planning with the URL and the last error: for good on a 4xx (an `InputError`), retryably
 * otherwise (a plain `Error`, which the plan stage's retry policy retries).
 */
export function feedListReader(readers: RecordReaders, options: () => FetchFeedsOptions): RecordReader {
  return async function* readFeeds(file, fileName, input) {
    const entries = await readFeedList(file, fileName);
    const scratch = join(dirname(file), `${basename(file)}.feeds-${randomUUID()}`);
    await mkdir(scratch, { recursive: true });
    const feeds = fetchFeeds(
      entries.map((e) => e.url),
      options(),
      scratch,
    );
    try {
      while (true) {
        let next: IteratorResult<FetchedFeed>;
        try {
          next = await feeds.next();
        } catch (err) {
          if (err instanceof FeedError) {
            const entry = entries.find((e) => e.url === err.url);
            const where = entry ? ` (${fileName} line ${entry.line})` : '';
            if (!err.retryable) throw new InputError(`${err.message}${where}`, { file: err.url });
            throw new Error(`${err.message}${where}`);
          }
          throw err;
        }
        if (next.done) break;
        const feed = next.value;
        const feedName = feedFileName(feed.url);
        const format: InputFormat = await detectFormat(feed.file, feedName);
        const reader = format === 'feed-list' ? undefined : readers[format];
        if (reader === undefined) {
          throw new InputError(
            `${fileName}: feed ${feed.url} holds ${format} input, which the supply-feed profile does not read`,
            { file: feed.url },
          );
        }
        // The feed's own format is detected; the batch's encoding, delimiter and sheet still apply.
        const { format: _listFormat, ...feedInput } = input;
        for await (const record of reader(feed.file, feed.url, feedInput)) {
          yield { ...record, location: { ...record.location, file: feed.url } };
        }
        await rm(feed.file, { force: true });
      }
    } finally {
      // Ends the downloads still under way when reading stops early (a bad feed, a failed staging).
      await feeds.return(undefined);
      await rm(scratch, { recursive: true, force: true });
    }
  };
}

/** The URL's last path segment, for format detection by extension (`.../orders.edi?x=1` -> `orders.edi`). */
function feedFileName(url: string): string {
  const path = new URL(url).pathname;
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last) || 'feed';
  } catch {
    return last;
  }
}

/** The readers of the document formats (feed lists excluded: a feed is never itself a list). */
export const documentReaders: RecordReaders = {
  x12: readX12Documents,
  csv: readCsvDocuments,
  xlsx: readXlsxDocuments,
  xml: readXmlSupplyDocuments,
};

export const supplyFeedReaders: RecordReaders = {
  ...documentReaders,
  'feed-list': feedListReader(documentReaders, () => feedFetchOptions),
};
