/**
 * One reader per format, each mapping its format's shape onto the same source invoice (see schema.ts): EDI X12 210,
 * UBL 2.1 Invoice XML, and CSV exports with one row per charge line. A reader yields one record per master invoice,
 * never splitting one; a part of the input that cannot become an invoice (an X12 set whose SE count is wrong, an XML
 * element that is not a UBL invoice) becomes a record with `parseIssues`, so the rest of the file goes on.
 */
import { createHash } from 'node:crypto';
import type { FieldIssue, InputOptions, RecordLocation, SourceFields } from '../types.ts';
import { InputError } from '../types.ts';
import type { StagedRecord } from '../../formats/staged.ts';
import type { RecordReaders } from '../staged-input.ts';
import { readCsvRecords } from '../../formats/csv-rows.ts';
import type { CsvRowRecord } from '../../formats/csv-rows.ts';
import { readX12 } from '../../formats/x12.ts';
import type { X12TransactionSet } from '../../formats/x12.ts';
import { map210 } from '../../formats/x12-sets.ts';
import type { Freight210, Freight210Stop, X12Party } from '../../formats/x12-sets.ts';
import { child, childText, children, readXmlDocuments } from '../../formats/xml.ts';
import type { XmlElement } from '../../formats/xml.ts';
import { checkUblTotals, mapUbl } from '../../formats/ubl.ts';
import { parseDecimal, toCents } from './money.ts';
import { withFormatIssues } from './schema.ts';

type Fields = SourceFields & { source_format: 'x12' | 'xml' | 'csv' };

/** Leaves out undefined values, so that the staged JSON and the ledger payload hold only what the file said. */
function defined<T extends Record<string, unknown>>(o: T): T {
  for (const key of Object.keys(o)) if (o[key] === undefined) delete o[key];
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// EDI X12 210

/**
 * X12 210 (Motor Carrier Freight Details and Invoice), through `readX12` and `map210`:
 *
 * | canonical        | 210                                                                                 |
 * |------------------|-------------------------------------------------------------------------------------|
 * | scac             | B311                                                                                |
 * | invoice_number   | B302                                                                                |
 * | invoice_date     | B306 (CCYYMMDD)                                                                     |
 * | currency         | C301, else USD                                                                      |
 * | shipment_id      | B303                                                                                |
 * | legs             | consecutive S5 stops (S501 order), each at the place of the stop's first N1 loop; without |
 * |                  | two placed stops, one leg from the heading N1 SH/SF to N1 CN/ST (see `placeOf`)   |
 * | charges[]        | every L1 in order: L108 code, L112 (else the loop's L502) description, L102 rate,  |
 * |                  | L104 amount (N2); quantity is the LX loop's L0 L002 (billed/rated-as quantity), given |
 * |                  | to the loop's first L1                                                              |
 * | total            | L305 (N2), else B307; both present and different is a `total_mismatch`              |
 */
export async function* readX12Invoices(file: string, fileName: string): AsyncGenerator<StagedRecord> {
  for await (const item of readX12(file, fileName)) {
    const location: RecordLocation = {
      file: fileName,
      line: item.line,
      byteOffset: item.byteOffset,
      position: item.where,
    };
    if (item.kind === 'error') {
      yield {
        fields: { source_format: 'x12' },
        location,
        parseIssues: [{ path: '', code: 'parse_error', message: item.message }],
      };
      continue;
    }
    if (item.setId !== '210') {
      const message = `${fileName}: ${item.where}: transaction set ${item.setId} is not a 210 freight invoice`;
      yield {
        fields: { source_format: 'x12' },
        location,
        parseIssues: [{ path: '', code: 'unsupported_transaction_set', message, value: item.setId }],
      };
      continue;
    }
    yield { fields: fieldsOf210(item), location };
  }
}

export function fieldsOf210(set: X12TransactionSet): Fields {
  const { record, issues } = map210(set);
  const quantities = billedQuantities(set);
  const charges: Record<string, unknown>[] = [];
  // map210 paths name the LX loop and L1; the canonical record numbers charges across loops.
  const chargePaths = new Map<string, string>();
  record.lines.forEach((line, li) => {
    line.charges.forEach((c, ci) => {
      const k = charges.length;
      chargePaths.set(`lines[${li}].charges[${ci}]`, `charges[${k}]`);
      charges.push(
        defined({
          line_no: k + 1,
          charge_code: c.chargeCode,
          description: c.description ?? (ci === 0 ? line.description : undefined),
          quantity: ci === 0 ? quantities[li] : undefined,
          rate: c.rate,
          amount: c.charge,
        }),
      );
    });
  });
  const formatIssues: FieldIssue[] = issues.map((issue) => ({
    ...issue,
    path: canonical210Path(issue.path, chargePaths),
  }));
  if (
    record.totalCharges !== undefined &&
    record.netAmountDue !== undefined &&
    record.totalCharges !== record.netAmountDue
  ) {
    formatIssues.push({
      path: 'total',
      code: 'total_mismatch',
      message: `B307 net amount due ${record.netAmountDue} differs from L305 total charges ${record.totalCharges} (${set.where})`,
      value: record.netAmountDue,
    });
  }
  const fields = defined({
    source_format: 'x12' as const,
    scac: record.scac,
    invoice_number: record.invoiceNumber,
    invoice_date: record.billDate,
    currency: record.currency,
    shipment_id: record.shipmentId,
    legs: legsOf210(record),
    charges,
    total: record.totalCharges ?? record.netAmountDue,
  });
  return withFormatIssues(fields, formatIssues);
}

const PATHS_210: Readonly<Record<string, string>> = {
  invoiceNumber: 'invoice_number',
  billDate: 'invoice_date',
  scac: 'scac',
  totalCharges: 'total',
  netAmountDue: 'total',
};

function canonical210Path(path: string, chargePaths: ReadonlyMap<string, string>): string {
  const m = /^(lines\[\d+\]\.charges\[\d+\])\.(charge|rate)$/.exec(path);
  if (m) {
    const base = chargePaths.get(m[1]!);
    if (base !== undefined) return `${base}.${m[2] === 'charge' ? 'amount' : 'rate'}`;
  }
  return PATHS_210[path] ?? path;
}

/**
 * L0 L002 (billed/rated-as quantity) of each LX loop, indexed as map210 indexes its lines: LX opens a loop, and so
 * do L5, L0 or L1 outside one; S5 and L3 close it. map210 keeps L008 (lading quantity), which is pieces, not the
 * miles or hours a charge is rated on.
 */
function billedQuantities(set: X12TransactionSet): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let open = false;
  for (const seg of set.segments) {
    switch (seg.id) {
      case 'S5':
      case 'L3':
        open = false;
        break;
      case 'LX':
        out.push(undefined);
        open = true;
        break;
      case 'L5':
      case 'L0':
      case 'L1':
        if (!open) {
          out.push(undefined);
          open = true;
        }
        if (seg.id === 'L0' && seg.elements[1]) out[out.length - 1] = seg.elements[1];
        break;
    }
  }
  return out;
}

/**
 * A party's place: its N104 when N103 is `ZZ` (a location code the partners agreed on, such as a UN/LOCODE), else
 * N401 and N402 (`DAYTON, OH`), else its name. An N104 under another qualifier names the party, not the place.
 */
function placeOf(party: X12Party | undefined): string | undefined {
  if (party === undefined) return undefined;
  if (party.idQualifier === 'ZZ' && party.id !== undefined) return party.id;
  return [party.city, party.state].filter(Boolean).join(', ') || party.name;
}

/** Legs between consecutive S5 stops when every stop names its place, else one leg from shipper to consignee. */
function legsOf210(record: Freight210): Record<string, unknown>[] {
  const stops = [...record.stops].sort((a, b) => Number(a.stopNo ?? 0) - Number(b.stopNo ?? 0));
  const stopPlace = (stop: Freight210Stop): string | undefined => placeOf(stop.parties[0]);
  if (stops.length >= 2 && stops.every((stop) => stopPlace(stop) !== undefined)) {
    return stops
      .slice(1)
      .map((stop, i) => ({ leg_no: String(i + 1), origin: stopPlace(stops[i]!), destination: stopPlace(stop) }));
  }
  const party = (...qualifiers: string[]) => record.parties.find((p) => qualifiers.includes(p.qualifier ?? ''));
  const origin = placeOf(party('SH', 'SF'));
  const destination = placeOf(party('CN', 'ST'));
  return origin !== undefined && destination !== undefined ? [{ leg_no: '1', origin, destination }] : [];
}

// ---------------------------------------------------------------------------------------------------------------
// UBL 2.1 Invoice XML

/**
 * UBL 2.1 `Invoice` documents (a file of one, or a wrapper element holding many), through `readXmlDocuments` and
 * `mapUbl`:
 *
 * | canonical        | UBL                                                                                          |
 * |------------------|----------------------------------------------------------------------------------------------|
 * | scac             | cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID[@schemeID="SCAC"]       |
 * | invoice_number   | cbc:ID                                                                                       |
 * | invoice_date     | cbc:IssueDate                                                                                |
 * | currency         | cbc:DocumentCurrencyCode                                                                     |
 * | shipment_id      | cac:Delivery/cac:Shipment/cbc:ID                                                             |
 * | legs[]           | cac:Delivery/cac:Shipment/cac:ShipmentStage: cbc:ID, cac:LoadingPortLocation/cbc:ID,         |
 * |                  | cac:UnloadingPortLocation/cbc:ID                                                             |
 * | charges[]        | cac:InvoiceLine: cac:Item/cac:SellersItemIdentification/cbc:ID (charge code), cac:Item/cbc:Name, |
 * |                  | cbc:InvoicedQuantity, cac:Price/cbc:PriceAmount (rate), cbc:LineExtensionAmount (amount)      |
 * | total            | cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount (charges before tax)                           |
 *
 * mapUbl's issues (EN 16931's mandatory elements) and checkUblTotals' (BR-CO-10 and friends) are kept with the
 * invoice; a `CreditNote` is held as a schema violation (freight audits invoices), and an element that is not UBL at
 * all is a parse error.
 */
export async function* readUblInvoices(
  file: string,
  fileName: string,
  input: InputOptions,
): AsyncGenerator<StagedRecord> {
  const documents = readXmlDocuments(file, fileName, {
    documentElements: ['Invoice', 'CreditNote'],
    ...(input.encoding && { encoding: input.encoding }),
  });
  for await (const doc of documents) {
    const location: RecordLocation = {
      file: fileName,
      line: doc.line,
      byteOffset: doc.byteStart,
      position: doc.position,
    };
    const fields = fieldsOfUbl(doc.element);
    if (fields === undefined) {
      const { issues } = mapUbl(doc.element);
      yield {
        fields: { source_format: 'xml' },
        location,
        parseIssues: issues.map((i) => ({ ...i, message: `${fileName}: ${doc.position}: ${i.message}` })),
      };
    } else {
      yield { fields, location };
    }
  }
}

const PATHS_UBL: Readonly<Record<string, string>> = {
  id: 'invoice_number',
  issueDate: 'invoice_date',
  documentCurrency: 'currency',
  'monetaryTotal.taxExclusiveAmount': 'total',
};

function canonicalUblPath(path: string): string {
  const m = /^lines\[(\d+)\]\.(lineExtensionAmount|quantity|priceAmount|sellersItemId)$/.exec(path);
  if (m) {
    const field = {
      lineExtensionAmount: 'amount',
      quantity: 'quantity',
      priceAmount: 'rate',
      sellersItemId: 'charge_code',
    }[m[2] as 'lineExtensionAmount' | 'quantity' | 'priceAmount' | 'sellersItemId'];
    return `charges[${m[1]}].${field}`;
  }
  return PATHS_UBL[path] ?? path;
}

/** The SCAC among the supplier's party identifiers: the `cbc:ID` whose schemeID is `SCAC`. */
function scacOf(invoice: XmlElement): string | undefined {
  const party = child(invoice, 'AccountingSupplierParty', 'Party');
  if (party === undefined) return undefined;
  for (const identification of children(party, 'PartyIdentification')) {
    const id = child(identification, 'ID');
    if (id !== undefined && id.attrs.schemeID === 'SCAC') return id.text;
  }
  return undefined;
}

export function fieldsOfUbl(invoice: XmlElement): Fields | undefined {
  const { document, issues } = mapUbl(invoice);
  if (document === undefined) return undefined;
  const formatIssues: FieldIssue[] = issues.map((i) => ({ ...i, path: canonicalUblPath(i.path) }));
  if (issues.length === 0) {
    // Totals are only worth checking once every amount is there and readable.
    formatIssues.push(...checkUblTotals(document).map((i) => ({ ...i, path: canonicalUblPath(i.path) })));
  }
  if (document.documentType !== 'Invoice') {
    formatIssues.push({
      path: '',
      code: 'unsupported_document',
      message: `a ${document.documentType} is not a freight invoice: credits are settled outside the freight audit`,
      value: document.documentType,
    });
  }
  document.lines.forEach((line, i) => {
    if (line.currency !== undefined && line.currency !== document.documentCurrency) {
      formatIssues.push({
        path: `charges[${i}].amount`,
        code: 'currency_mismatch',
        message: `line ${line.id} is in ${line.currency}, the invoice in ${document.documentCurrency}`,
        value: line.currency,
      });
    }
  });

  const shipment = child(invoice, 'Delivery', 'Shipment');
  const legs = shipment
    ? children(shipment, 'ShipmentStage').map((stage, i) =>
        defined({
          leg_no: childText(stage, 'ID') || String(i + 1),
          origin: childText(stage, 'LoadingPortLocation', 'ID'),
          destination: childText(stage, 'UnloadingPortLocation', 'ID'),
        }),
      )
    : [];
  const fields = defined({
    source_format: 'xml' as const,
    scac: scacOf(invoice),
    invoice_number: document.id,
    invoice_date: document.issueDate,
    currency: document.documentCurrency,
    shipment_id: shipment && childText(shipment, 'ID'),
    legs,
    charges: document.lines.map((line, i) =>
      defined({
        line_no: i + 1,
        charge_code: line.sellersItemId,
        description: line.itemName ?? line.description,
        quantity: line.quantity,
        rate: line.priceAmount,
        amount: line.lineExtensionAmount,
      }),
    ),
    total: document.monetaryTotal.taxExclusiveAmount,
  });
  return withFormatIssues(fields, formatIssues);
}

// ---------------------------------------------------------------------------------------------------------------
// CSV

/** Columns every freight CSV export has. */
export const CSV_REQUIRED = [
  'scac',
  'invoice_number',
  'invoice_date',
  'currency',
  'charge_code',
  'amount',
  'invoice_total',
] as const;
/** Columns it may have. */
export const CSV_OPTIONAL = [
  'shipment_id',
  'origin',
  'destination',
  'leg_no',
  'description',
  'quantity',
  'rate',
] as const;
/** The invoice-level columns, repeated on every row of an invoice; the rows must agree on them. */
const CSV_HEADER_COLUMNS = [
  'scac',
  'invoice_number',
  'invoice_date',
  'currency',
  'shipment_id',
  'invoice_total',
] as const;

/**
 * CSV exports with one row per charge line, the rows of one invoice together (`scac` + `invoice_number`):
 *
 * | canonical        | CSV                                                                                        |
 * |------------------|--------------------------------------------------------------------------------------------|
 * | scac, invoice_number, invoice_date, currency, shipment_id | the columns of the same names (every row must agree) |
 * | total            | invoice_total                                                                              |
 * | legs[]           | leg_no, origin, destination: one leg per distinct leg_no, in order of first appearance     |
 * | charges[]        | one per row: charge_code, description, quantity, rate, amount; line_no is the row's place  |
 *
 * An invoice whose rows come back after other invoices is either the same invoice sent again, row for row (kept as a
 * record of its own: the ledger counts it a duplicate), or scattered rows, which would silently split one invoice in
 * two: an `InputError` naming both places.
 */
export async function* readCsvInvoices(
  file: string,
  fileName: string,
  input: InputOptions,
): AsyncGenerator<StagedRecord> {
  const rows = readCsvRecords(file, fileName, {
    ...(input.delimiter && { delimiter: input.delimiter }),
    ...(input.encoding && { encoding: input.encoding }),
  });
  for await (const group of invoiceRuns(checkedRows(rows, fileName), fileName)) {
    yield { fields: fieldsOfCsv(group), location: csvLocation(fileName, group) };
  }
}

/** The rows, once the first has shown the header has the freight columns (before any grouping buffers rows). */
async function* checkedRows(rows: AsyncIterable<CsvRowRecord>, fileName: string): AsyncGenerator<CsvRowRecord> {
  let checked = false;
  for await (const row of rows) {
    if (!checked) {
      checkCsvHeader(Object.keys(row.fields), fileName, row);
      checked = true;
    }
    yield row;
  }
}

function checkCsvHeader(columns: string[], fileName: string, first: CsvRowRecord): void {
  const known = new Set<string>([...CSV_REQUIRED, ...CSV_OPTIONAL]);
  const missing = CSV_REQUIRED.filter((c) => !columns.includes(c));
  const unknown = columns.filter((c) => !known.has(c));
  if (missing.length === 0 && unknown.length === 0) return;
  const problems = [
    missing.length > 0 ? `missing column(s) ${missing.join(', ')}` : '',
    unknown.length > 0 ? `unknown column(s) ${unknown.join(', ')}` : '',
  ].filter(Boolean);
  throw new InputError(
    `${fileName}: header: ${problems.join('; ')} (freight CSV columns: ${[...CSV_REQUIRED, ...CSV_OPTIONAL].join(', ')})`,
    { file: fileName, line: Math.max(1, first.line - 1) },
    'schema_violation',
  );
}

const invoiceKey = (row: CsvRowRecord): string =>
  `${(row.fields.scac ?? '').trim()}/${(row.fields.invoice_number ?? '').trim()}`;

const contentHash = (rows: CsvRowRecord[]): string =>
  createHash('sha256')
    .update(JSON.stringify(rows.map((r) => r.fields)))
    .digest('hex')
    .slice(0, 16);

/**
 * Invoices as runs of consecutive rows with the same SCAC and invoice number. Like `groupContiguous` (csv-rows.ts),
 * but an invoice sent twice is a duplicate to report, not a broken file: an invoice that comes back later is allowed
 * when it repeats its first rows exactly, and a run that is the same invoice twice in a row is split in two (see
 * `copiesOf`). Remembers one short hash per invoice.
 */
async function* invoiceRuns(rows: AsyncIterable<CsvRowRecord>, fileName: string): AsyncGenerator<CsvRowRecord[]> {
  const seen = new Map<string, { hash: string; where: string }>();
  let run: CsvRowRecord[] = [];
  let runKey = '';
  const finish = (): CsvRowRecord[][] => {
    const copies = copiesOf(run);
    const hash = contentHash(copies[0]!);
    const first = seen.get(runKey);
    const where = describeRun(run);
    if (first === undefined) seen.set(runKey, { hash, where: describeRun(copies[0]!) });
    else if (first.hash !== hash) {
      throw new InputError(
        `${fileName}: rows of invoice ${runKey} are not contiguous: first at ${first.where}, again at ${where} ` +
          'with different rows (an invoice must not be split; a resent invoice must repeat its rows exactly)',
        { file: fileName, line: run[0]!.line, byteOffset: run[0]!.byteOffset, position: where },
      );
    }
    return copies;
  };
  for await (const row of rows) {
    const key = invoiceKey(row);
    if (run.length > 0 && key === runKey) {
      run.push(row);
      continue;
    }
    if (run.length > 0) yield* finish();
    run = [row];
    runKey = key;
  }
  if (run.length > 0) yield* finish();
}

/**
 * A run of rows that is k exact copies of its first rows, where each copy's amounts add up to the invoice total and
 * the whole run's do not, is the same invoice sent k times in a row: k invoices. Anything else is one invoice (two
 * identical liftgate rows of one invoice stay together, because only both together make its total).
 */
function copiesOf(run: CsvRowRecord[]): CsvRowRecord[][] {
  const n = run.length;
  const same = (a: CsvRowRecord, b: CsvRowRecord): boolean =>
    Object.keys(a.fields).every((k) => a.fields[k] === b.fields[k]);
  for (let period = 1; period <= n / 2; period++) {
    if (n % period !== 0 || !run.every((row, i) => i < period || same(row, run[i % period]!))) continue;
    const copy = run.slice(0, period);
    if (addsUpToTotal(copy) && !addsUpToTotal(run)) {
      return Array.from({ length: n / period }, (_, k) => run.slice(k * period, (k + 1) * period));
    }
  }
  return [run];
}

/** Whether the rows' amounts add up to their invoice_total within a cent; false when any is unreadable. */
function addsUpToTotal(rows: CsvRowRecord[]): boolean {
  const total = parseDecimal((rows[0]!.fields.invoice_total ?? '').trim());
  const totalCents = total && toCents(total);
  if (totalCents === undefined) return false;
  let sum = 0n;
  for (const row of rows) {
    const amount = parseDecimal((row.fields.amount ?? '').trim());
    const cents = amount && toCents(amount);
    if (cents === undefined) return false;
    sum += cents;
  }
  const diff = sum - totalCents;
  return diff >= -1n && diff <= 1n;
}

function describeRun(rows: CsvRowRecord[]): string {
  const first = rows[0]!.line;
  const last = rows[rows.length - 1]!.line;
  return first === last ? `line ${first}` : `lines ${first}-${last}`;
}

function csvLocation(fileName: string, rows: CsvRowRecord[]): RecordLocation {
  const first = rows[0]!;
  return defined({ file: fileName, line: first.line, byteOffset: first.byteOffset, position: describeRun(rows) });
}

export function fieldsOfCsv(rows: CsvRowRecord[]): Fields {
  const first = rows[0]!.fields;
  const formatIssues: FieldIssue[] = [];
  for (const column of CSV_HEADER_COLUMNS) {
    const value = first[column]?.trim();
    const other = rows.find((r) => r.fields[column]?.trim() !== value);
    if (other !== undefined) {
      formatIssues.push({
        path: column === 'invoice_total' ? 'total' : column,
        code: 'conflicting_value',
        message: `${column} is ${JSON.stringify(other.fields[column])} at line ${other.line} but ${JSON.stringify(first[column])} at line ${rows[0]!.line}: the rows of an invoice must agree`,
        value: other.fields[column],
      });
    }
  }

  const legs: Record<string, unknown>[] = [];
  const legRows = new Map<string, CsvRowRecord>();
  for (const row of rows) {
    const { leg_no = '', origin = '', destination = '' } = row.fields;
    if (leg_no.trim() === '' && origin.trim() === '' && destination.trim() === '') continue;
    const firstRow = legRows.get(leg_no.trim());
    if (firstRow === undefined) {
      legRows.set(leg_no.trim(), row);
      legs.push({ leg_no, origin, destination });
      continue;
    }
    for (const column of ['origin', 'destination'] as const) {
      if (row.fields[column]?.trim() !== firstRow.fields[column]?.trim()) {
        formatIssues.push({
          path: `legs[${legs.findIndex((l) => String(l.leg_no).trim() === leg_no.trim())}].${column}`,
          code: 'conflicting_value',
          message: `leg ${leg_no.trim()} has ${column} ${JSON.stringify(row.fields[column])} at line ${row.line} but ${JSON.stringify(firstRow.fields[column])} at line ${firstRow.line}`,
          value: row.fields[column],
        });
      }
    }
  }

  const fields = defined({
    source_format: 'csv' as const,
    scac: first.scac,
    invoice_number: first.invoice_number,
    invoice_date: first.invoice_date,
    currency: first.currency,
    shipment_id: first.shipment_id,
    legs,
    charges: rows.map((row, i) =>
      defined({
        line_no: i + 1,
        charge_code: row.fields.charge_code,
        description: row.fields.description,
        quantity: row.fields.quantity,
        rate: row.fields.rate,
        amount: row.fields.amount,
      }),
    ),
    total: first.invoice_total,
  });
  return withFormatIssues(fields, formatIssues);
}

export const freightReaders: RecordReaders = {
  x12: (file, fileName) => readX12Invoices(file, fileName),
  xml: readUblInvoices,
  csv: readCsvInvoices,
};
