/**
 * One reader per format, each mapping its format's shape onto the same source shape (`CustomsSource` in schema.ts):
 * the canonical field names with values as the document wrote them. Validation then treats every format alike.
 *
 * - json / ndjson: the source shape itself, one invoice object per array item or line.
 * - xml: UBL 2.1 Invoices (one file, or several under any wrapper element), through `mapUbl`; the packing list and
 *   OCR confidences come from sluice's UBL extension (`urn:sluice:customs:1`), or the packing totals from the
 *   standard `cac:Delivery/cac:Shipment` elements.
 * - csv: one row per invoice line with the invoice's columns repeated, grouped into invoices by `groupContiguous`.
 */
import { readCsvRecords, groupContiguous } from '../../formats/csv-rows.ts';
import type { CsvRowRecord } from '../../formats/csv-rows.ts';
import { readJsonArray, readNdjson } from '../../formats/json.ts';
import { mapUbl } from '../../formats/ubl.ts';
import type { UblDocument, UblParty } from '../../formats/ubl.ts';
import { child, children, readXmlDocuments } from '../../formats/xml.ts';
import type { XmlElement } from '../../formats/xml.ts';
import type { StagedRecord } from '../../formats/staged.ts';
import type { RecordReader } from '../staged-input.ts';
import type { FieldIssue } from '../types.ts';
import { InputError } from '../types.ts';
import { decimal, format, mul } from './decimal.ts';
import { CSV_COLUMNS, CUSTOMS_EXTENSION_NS } from './layouts.ts';

type Source = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// CSV

/** Columns that belong to the invoice: every row of an invoice must repeat the same values. */
const INVOICE_COLUMNS = CSV_COLUMNS.slice(0, CSV_COLUMNS.indexOf('line_no'));
const KNOWN_COLUMNS: ReadonlySet<string> = new Set(CSV_COLUMNS);

const blankToUndefined = (v: string | undefined): string | undefined =>
  v === undefined || v.trim() === '' ? undefined : v;

/** The business key a CSV row belongs to, as validation will normalise it (so `de 123` and `DE123` agree). */
const rowKey = (r: CsvRowRecord): string =>
  `${(r.fields.invoice_number ?? '').trim()} of exporter ${(r.fields.exporter_id ?? '').toUpperCase().replace(/\s+/g, '')}`;

/**
 * Gives each row the key of the invoice it belongs to. Rows of one invoice are contiguous; the same invoice number
 * and exporter again means a new document (a repeated invoice: it will be a duplicate) when its rows start over at
 * line 1, or come right after the original with a line number it already had. Otherwise the rows continue an
 * invoice seen earlier: the file is not grouped by invoice, and `groupContiguous` refuses it rather than splitting
 * the invoice in two.
 */
async function* withDocumentKeys(rows: AsyncIterable<CsvRowRecord>): AsyncGenerator<CsvRowRecord & { key: string }> {
  const occurrences = new Map<string, number>();
  let current: { base: string; key: string; lineNos: Set<string> } | undefined;
  for await (const row of rows) {
    const base = rowKey(row);
    const lineNo = (row.fields.line_no ?? '').trim();
    if (current && current.base === base && !(lineNo !== '' && current.lineNos.has(lineNo))) {
      if (lineNo !== '') current.lineNos.add(lineNo);
      yield { ...row, key: current.key };
      continue;
    }
    const seen = occurrences.get(base) ?? 0;
    const repeat = seen === 0 || current?.base === base || lineNo === '1';
    // Not a repeat: the old key, which groupContiguous reports as rows that are not contiguous.
    const n = repeat ? seen + 1 : seen;
    occurrences.set(base, n);
    const key = n === 1 ? base : `${base} (occurrence ${n})`;
    current = { base, key, lineNos: new Set(lineNo === '' ? [] : [lineNo]) };
    yield { ...row, key };
  }
}

/** Parses the `ocr_confidence` cell: `field=confidence` pairs separated by `;` (`invoice_total=0.91;lines[0].hs_code=0.7`). */
function ocrCell(text: string | undefined): Record<string, string | null> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, string | null> = {};
  for (const pair of text.split(';')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    // A pair without `=` has no confidence: validation reports the field as missing.
    if (at < 0) out[pair.trim()] = null;
    else out[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return out;
}

/** One invoice from its rows. */
function invoiceFromRows(rows: CsvRowRecord[], fileName: string): StagedRecord {
  const first = rows[0]!;
  const f = first.fields;
  const cell = (name: string): string | undefined => blankToUndefined(f[name]);
  /** Required invoice columns keep a blank as '' (validation says "empty"); optional ones leave it out. */
  const required = (name: string): string | undefined => (name in f ? f[name] : undefined);
  const party = (prefix: string, idRequired: boolean): Source => ({
    ...((idRequired ? required(`${prefix}_id`) : cell(`${prefix}_id`)) === undefined
      ? {}
      : { id: idRequired ? required(`${prefix}_id`) : cell(`${prefix}_id`) }),
    ...(required(`${prefix}_name`) === undefined ? {} : { name: required(`${prefix}_name`) }),
    ...(cell(`${prefix}_country`) === undefined ? {} : { country: cell(`${prefix}_country`) }),
  });
  const lines = rows.map((r) => {
    const line: Source = {};
    for (const name of [
      'line_no',
      'description',
      'quantity',
      'unit',
      'unit_price',
      'line_total',
      'hs_code',
      'origin_country',
    ]) {
      const value = name === 'line_no' || name === 'unit' ? blankToUndefined(r.fields[name]) : r.fields[name];
      if (value !== undefined) line[name] = value;
    }
    return line;
  });
  const packingLines = rows.flatMap((r, i) =>
    blankToUndefined(r.fields.line_packages) === undefined
      ? []
      : [{ line_no: blankToUndefined(r.fields.line_no) ?? String(i + 1), packages: r.fields.line_packages }],
  );
  const hasPacking =
    packingLines.length > 0 || ['packages', 'gross_weight_kg', 'net_weight_kg'].some((c) => cell(c) !== undefined);
  const fields: Source = {
    ...Object.fromEntries(
      ['invoice_number', 'invoice_date', 'incoterm', 'currency', 'invoice_total'].flatMap((c) =>
        required(c) === undefined ? [] : [[c, required(c)]],
      ),
    ),
    ...(cell('locale') === undefined ? {} : { locale: cell('locale') }),
    exporter: party('exporter', true),
    importer: party('importer', false),
    lines,
    ...(hasPacking
      ? {
          packing_list: {
            packages: f.packages ?? '',
            gross_weight_kg: f.gross_weight_kg ?? '',
            net_weight_kg: f.net_weight_kg ?? '',
            ...(packingLines.length > 0 ? { lines: packingLines } : {}),
          },
        }
      : {}),
    ...(ocrCell(cell('ocr_confidence')) === undefined ? {} : { ocr_confidence: ocrCell(cell('ocr_confidence')) }),
  };
  // Columns the profile does not know stay in the record, where validation reports them as unknown fields.
  for (const [name, value] of Object.entries(f)) if (!KNOWN_COLUMNS.has(name)) fields[name] = value;

  const parseIssues: FieldIssue[] = [];
  for (const r of rows.slice(1)) {
    for (const column of INVOICE_COLUMNS) {
      if ((r.fields[column] ?? '').trim() !== (f[column] ?? '').trim()) {
        parseIssues.push({
          path: column,
          code: 'inconsistent_invoice_columns',
          message:
            `line ${r.line} gives ${column} ${JSON.stringify(r.fields[column])} but the invoice's first row ` +
            `(line ${first.line}) gives ${JSON.stringify(f[column])}: every row of an invoice repeats its columns`,
          value: r.fields[column],
        });
      }
    }
  }
  const last = rows[rows.length - 1]!;
  return {
    fields,
    location: {
      file: fileName,
      line: first.line,
      ...(first.byteOffset === undefined ? {} : { byteOffset: first.byteOffset }),
      position: rows.length === 1 ? `line ${first.line}` : `lines ${first.line}-${last.line}`,
    },
    ...(parseIssues.length > 0 ? { parseIssues } : {}),
  };
}

export const readCsvInvoices: RecordReader = async function* (file, fileName, input) {
  const rows = readCsvRecords(file, fileName, {
    ...(input.delimiter === undefined ? {} : { delimiter: input.delimiter }),
    ...(input.encoding === undefined ? {} : { encoding: input.encoding }),
  });
  let checked = false;
  const checkedRows = async function* (): AsyncGenerator<CsvRowRecord> {
    for await (const row of rows) {
      if (!checked) {
        checked = true;
        const absent = ['invoice_number', 'exporter_id'].filter((c) => !(c in row.fields));
        if (absent.length > 0) {
          throw new InputError(
            `${fileName}: the header has no ${absent.join(' or ')} column: rows are grouped into invoices by ` +
              `invoice_number and exporter_id (the columns are ${CSV_COLUMNS.join(', ')})`,
            { file: fileName, line: 1 },
            'schema_violation',
          );
        }
      }
      yield row;
    }
  };
  for await (const group of groupContiguous(
    withDocumentKeys(checkedRows()),
    (r) => r.key,
    (r) => `line ${r.line}`,
    { file: fileName, noun: 'invoice', location: (r) => ({ file: fileName, line: r.line, byteOffset: r.byteOffset }) },
  )) {
    yield invoiceFromRows(group, fileName);
  }
};

// ---------------------------------------------------------------------------------------------------------------
// UBL XML

/** Kilograms per unit of UN/ECE Recommendation 20 weight codes. */
const KG_PER_UNIT: Readonly<Record<string, string>> = {
  KGM: '1',
  GRM: '0.001',
  TNE: '1000',
  LBR: '0.45359237',
};

/** A weight in kilograms, exactly; a value that is not a decimal is passed on for validation to report. */
function weightKg(el: XmlElement | undefined, path: string, issues: FieldIssue[]): string | undefined {
  if (el === undefined || el.text === '') return undefined;
  const unit = (el.attrs.unitCode ?? 'KGM').toUpperCase();
  const factor = KG_PER_UNIT[unit];
  if (factor === undefined) {
    issues.push({
      path,
      code: 'unknown_unit',
      message: `weight unit ${unit} is not one of ${Object.keys(KG_PER_UNIT).join(', ')}`,
      value: el.attrs.unitCode,
    });
    return el.text;
  }
  if (unit === 'KGM' || !/^\d+(?:\.\d+)?$/.test(el.text)) return el.text;
  return format(mul(decimal(el.text), decimal(factor)));
}

const partyOf = (p: UblParty): Source => {
  // The party's identifier: PartyIdentification/ID, else its VAT number, else its legal registration.
  const id = p.id ?? p.vatId ?? p.legalId ?? p.endpointId;
  return {
    ...(id === undefined ? {} : { id }),
    ...(p.name === undefined ? {} : { name: p.name }),
    ...(p.country === undefined ? {} : { country: p.country }),
  };
};

/** The sluice customs extension of an Invoice (`ext:UBLExtensions/.../sc:CustomsData`), if it has one. */
function customsExtension(invoice: XmlElement): XmlElement | undefined {
  for (const ext of children(invoice, 'UBLExtensions').flatMap((e) => children(e, 'UBLExtension'))) {
    const data = child(ext, 'ExtensionContent', 'CustomsData');
    if (data !== undefined && data.ns === CUSTOMS_EXTENSION_NS) return data;
  }
  return undefined;
}

/** The source record of one UBL Invoice element; structural problems become parse issues. */
export function invoiceFromUbl(element: XmlElement): { fields: Source; parseIssues: FieldIssue[] } {
  const { document, issues } = mapUbl(element);
  const parseIssues: FieldIssue[] = issues.filter((i) => i.code === 'wrong_namespace' || i.code === 'not_ubl_document');
  if (document === undefined) return { fields: {}, parseIssues };
  if (document.documentType !== 'Invoice') {
    parseIssues.push({
      path: '',
      code: 'not_an_invoice',
      message: `a UBL ${document.documentType} is not a commercial invoice`,
      value: document.id,
    });
  }
  const doc: UblDocument = document;
  const nonEmpty = (v: string | undefined): string | undefined => (v === '' ? undefined : v);
  const lines = doc.lines.map((l, i) => {
    const hs = l.commodityCodes.find((c) => c.listId?.toUpperCase() === 'HS');
    if (l.baseQuantity !== undefined && l.baseQuantity !== '1' && !/^1\.0*$/.test(l.baseQuantity)) {
      parseIssues.push({
        path: `lines[${i}].unit_price`,
        code: 'unsupported_base_quantity',
        message: `a price per ${l.baseQuantity} units (cbc:BaseQuantity) is not supported: give the price of one unit`,
        value: l.baseQuantity,
      });
    }
    const line: Source = {
      line_no: l.id,
      description: l.itemName ?? l.description,
      quantity: l.quantity,
      unit: l.unitCode,
      unit_price: l.priceAmount,
      line_total: l.lineExtensionAmount,
      hs_code: hs?.code,
      origin_country: l.originCountry,
    };
    return Object.fromEntries(Object.entries(line).filter(([, v]) => v !== undefined));
  });

  const ext = customsExtension(element);
  let packingList: Source | undefined;
  const packing = ext && child(ext, 'PackingList');
  if (packing !== undefined) {
    packingList = {
      packages: child(packing, 'Packages')?.text ?? '',
      gross_weight_kg: weightKg(child(packing, 'GrossWeight'), 'packing_list.gross_weight_kg', parseIssues) ?? '',
      net_weight_kg: weightKg(child(packing, 'NetWeight'), 'packing_list.net_weight_kg', parseIssues) ?? '',
    };
    const packingLines = children(packing, 'Line').map((l) => ({
      line_no: child(l, 'LineID')?.text ?? '',
      packages: child(l, 'Packages')?.text ?? '',
    }));
    if (packingLines.length > 0) packingList.lines = packingLines;
  } else {
    const shipment = child(element, 'Delivery', 'Shipment');
    const gross = shipment && child(shipment, 'GrossWeightMeasure');
    const net = shipment && child(shipment, 'NetWeightMeasure');
    const packages = shipment && child(shipment, 'TotalTransportHandlingUnitQuantity');
    if (gross || net || packages) {
      packingList = {
        packages: packages?.text ?? '',
        gross_weight_kg: weightKg(gross, 'packing_list.gross_weight_kg', parseIssues) ?? '',
        net_weight_kg: weightKg(net, 'packing_list.net_weight_kg', parseIssues) ?? '',
      };
    }
  }
  const confidences = ext ? children(ext, 'OcrConfidence') : [];
  const ocr = Object.fromEntries(confidences.map((c) => [c.attrs.field ?? '', c.text]));

  const fields: Source = {
    invoice_number: doc.id,
    invoice_date: doc.issueDate,
    // XML Schema decimals and dates, whatever the batch's locale.
    locale: 'iso',
    exporter: partyOf(doc.supplier),
    importer: partyOf(doc.customer),
    ...(doc.delivery?.incoterms === undefined ? {} : { incoterm: doc.delivery.incoterms }),
    currency: doc.documentCurrency,
    invoice_total: nonEmpty(doc.monetaryTotal.lineExtensionAmount) ?? '',
    lines,
    ...(packingList === undefined ? {} : { packing_list: packingList }),
    ...(confidences.length > 0 ? { ocr_confidence: ocr } : {}),
  };
  return { fields, parseIssues };
}

export const readXmlInvoices: RecordReader = async function* (file, fileName, input) {
  for await (const doc of readXmlDocuments(file, fileName, {
    documentElements: ['Invoice', 'CreditNote'],
    ...(input.encoding === undefined ? {} : { encoding: input.encoding }),
  })) {
    const { fields, parseIssues } = invoiceFromUbl(doc.element);
    yield {
      fields,
      location: { file: fileName, line: doc.line, byteOffset: doc.byteStart, position: doc.position },
      ...(parseIssues.length > 0 ? { parseIssues } : {}),
    };
  }
};

// ---------------------------------------------------------------------------------------------------------------
// JSON and NDJSON

/** An item of a JSON array or NDJSON file as an invoice: the object itself, or a parse issue saying what it is. */
function invoiceFromJson(
  item: { value?: unknown; error?: string; issues?: FieldIssue[]; line: number; byteOffset?: number; position: string },
  fileName: string,
): StagedRecord {
  const location = {
    file: fileName,
    line: item.line,
    ...(item.byteOffset === undefined ? {} : { byteOffset: item.byteOffset }),
    position: item.position,
  };
  if (item.error !== undefined) {
    return { fields: {}, location, parseIssues: [{ path: '', code: 'invalid_json', message: item.error }] };
  }
  const value = item.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    return {
      fields: {},
      location,
      parseIssues: [
        { path: '', code: 'not_an_object', message: `an invoice is a JSON object, this is ${what}`, value },
      ],
    };
  }
  // Numbers a double cannot hold exactly are kept as their text, and the invoice is held until a person decides.
  return { fields: value as Source, location, ...(item.issues ? { parseIssues: item.issues } : {}) };
}

export const readJsonInvoices: RecordReader = async function* (file, fileName) {
  for await (const item of readJsonArray(file, fileName)) {
    // Without a wrapper array, the reader takes the top-level object's one array: for a lone invoice, its lines.
    if (item.position.startsWith('$.lines[')) {
      throw new InputError(
        `${fileName}: the file is one invoice object; a JSON input is an array of invoices ([{...}, ...]) or an ` +
          `object with one array of them ({"invoices": [...]}): wrap the invoice in [ ]`,
        { file: fileName, line: item.line, byteOffset: item.byteOffset, position: item.position },
      );
    }
    yield invoiceFromJson(item, fileName);
  }
};

export const readNdjsonInvoices: RecordReader = async function* (file, fileName) {
  for await (const item of readNdjson(file, fileName)) yield invoiceFromJson(item, fileName);
};
