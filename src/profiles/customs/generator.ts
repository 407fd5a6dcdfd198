/**
 * Synthetic commercial invoices with planted defects and the outcome they must produce (the oracle), in any of the
 * profile's formats. Deterministic for a seed, and the same seed gives the same invoices in every format: an
 * invoice is drafted once (random draws), then written as JSON, NDJSON, UBL XML or CSV rows without further draws.
 * So a file generated in one format and resubmitted in another is all duplicates, as the business key says.
 *
 * Streams: invoices are written as they are drafted, and only a bounded sample of committed keys is kept for
 * planting duplicates, so a million invoices take little memory.
 *
 * Text formats write each invoice in a locale (en-US, en-GB, de-DE, fr-FR, or none: the batch default, en-US), with
 * or without digit grouping; XML writes XML Schema decimals and dates. The oracle assumes the default
 * `profile_options` (locale en-US, tolerance 0.01, minimum OCR confidence 0.85).
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { ExpectedOutcome, GenerateOptions } from '../types.ts';
import { INCOTERMS_2020 } from './codes.ts';
import type { Decimal } from './decimal.ts';
import { add, decimal, format, mul, round, sub } from './decimal.ts';
import { formatDate, formatNumber, parseNumber } from './locale.ts';
import type { Locale } from './locale.ts';
import { CSV_COLUMNS, CUSTOMS_EXTENSION_NS } from './layouts.ts';
import { BatchedWriter, countHeld, csvCell, cumulativeRates, mulberry32, newOutcome } from '../generator-kit.ts';

export const CUSTOMS_FORMATS = ['json', 'ndjson', 'xml', 'csv'] as const;
export type CustomsFormat = (typeof CUSTOMS_FORMATS)[number];

/** Every defect the generator can plant: one per reason code it can produce, and `duplicate`. */
export const DEFECTS = [
  'missing_field',
  'locale_number',
  'invalid_date',
  'invalid_incoterm',
  'invalid_currency',
  'invalid_country',
  'invalid_hs_code',
  'total_mismatch',
  'weight_inconsistent',
  'package_count_mismatch',
  'unknown_hs_code',
  'low_confidence',
  'duplicate',
] as const;
type Defect = (typeof DEFECTS)[number];

export const DEFAULT_DEFECTS: Record<string, number> = {
  missing_field: 0.01,
  locale_number: 0.01,
  invalid_date: 0.005,
  invalid_incoterm: 0.005,
  invalid_currency: 0.005,
  invalid_country: 0.005,
  invalid_hs_code: 0.005,
  total_mismatch: 0.01,
  weight_inconsistent: 0.005,
  package_count_mismatch: 0.005,
  unknown_hs_code: 0.01,
  low_confidence: 0.01,
  duplicate: 0.02,
};

/**
 * HS 2022 subheadings the generated lines use, with their section (checked against the shared HS 2022 file in the
 * unit tests) and an item name. `references()` writes these as the nomenclature the generated invoices need.
 */
export const GENERATOR_HS_CODES: ReadonlyArray<readonly [code: string, section: string, item: string]> = [
  ['850440', 'XVI', 'Power supply unit 24V'],
  ['847130', 'XVI', 'Laptop computer 14"'],
  ['854231', 'XVI', 'Microcontroller, 32-bit'],
  ['843149', 'XVI', 'Excavator bucket teeth'],
  ['848180', 'XVI', 'Ball valve DN50'],
  ['851713', 'XVI', 'Smartphone, 128 GB'],
  ['610910', 'XI', 'T-shirt, cotton, knitted'],
  ['620342', 'XI', "Men's trousers, denim"],
  ['520852', 'XI', 'Printed cotton poplin'],
  ['940360', 'XX', 'Oak dining table'],
  ['940171', 'XX', 'Office chair, upholstered'],
  ['950300', 'XX', 'Wooden toy train set'],
  ['870323', 'XVII', 'Passenger car, 2.0 l petrol'],
  ['300490', 'VI', 'Ibuprofen tablets 400 mg'],
  ['330499', 'VI', 'Moisturising cream'],
  ['291821', 'VI', 'Salicylic acid'],
  ['220421', 'IV', 'Red wine, Rioja, 0.75 l'],
  ['180690', 'IV', 'Chocolate pralines'],
  ['090111', 'II', 'Green coffee beans, arabica'],
  ['080810', 'II', 'Apples, Braeburn'],
  ['392690', 'VII', 'Plastic cable ties'],
  ['401110', 'VII', 'Car tyre 205/55 R16'],
  ['732690', 'XV', 'Steel brackets & fixings'],
  ['760612', 'XV', 'Aluminium sheet 2 mm'],
  ['900490', 'XVIII', 'Safety goggles'],
  ['640399', 'XII', 'Leather boots'],
  ['040690', 'I', 'Cheese, Gouda, aged'],
  ['030617', 'I', 'Frozen prawns'],
  ['711319', 'XIV', 'Gold ring, 18 ct'],
  ['442199', 'IX', 'Wooden clothes pegs'],
  ['482110', 'X', 'Printed paper labels'],
  ['691110', 'XIII', 'Porcelain dinner plates'],
  ['420221', 'VIII', 'Leather handbag'],
  ['271019', 'V', 'Lubricating oil'],
  ['150920', 'III', 'Extra virgin olive oil'],
  ['970121', 'XXI', 'Oil painting, 19th century'],
];

/** Well-formed codes that are not HS 2022 subheadings: retired HS 2017/2007 codes and the reserved chapter 77. */
export const UNKNOWN_HS_CODES = ['851712', '690890', '010110', '770000', '999990', '85171200'];
const BAD_HS_CODES = ['85044', '8504401', 'HS850440', '85-04-40', '850440123', '8504.4'];
const BAD_INCOTERMS = ['DAT', 'DDU', 'C&F', 'CNF Rotterdam', 'FOBB', 'FREE HOUSE', 'XYZ'];
const BAD_CURRENCIES = ['EURO', 'US$', 'RMB', 'XYZ', 'DM', 'HRK', 'E'];
const BAD_COUNTRIES = ['UK', 'EU', 'GER', 'XX', 'China', 'ZZ'];

const EXPORTERS = [
  { id: 'DE4471203958', name: 'Rheinmetall Werkzeuge GmbH', country: 'DE' },
  { id: 'FR31245678900017', name: 'Société Lyonnaise de Porcelaine', country: 'FR' },
  { id: 'IT02345678901', name: 'Oleificio Toscano S.r.l.', country: 'IT' },
  { id: 'CN914403001234567X', name: 'Shenzhen Bright Electronics Co., Ltd.', country: 'CN' },
  { id: 'US123456789000', name: 'Cascade Outdoor Supply, Inc.', country: 'US' },
  { id: 'GB123456789000', name: 'Thames Textiles Ltd', country: 'GB' },
  { id: 'VN0301234567', name: 'Saigon Garment Joint Stock Co.', country: 'VN' },
  { id: 'JP1234567890123', name: 'Kansai Precision "KPM" K.K.', country: 'JP' },
  { id: 'ES B12345678', name: 'Bodegas del Ebro, S.L.', country: 'ES' },
  { id: 'MX ABC010203XY1', name: 'Manufacturas del Norte S.A. de C.V.', country: 'MX' },
];
const IMPORTERS = [
  { id: 'NL853746298B01', name: 'Rotterdam Trading B.V.', country: 'NL' },
  { id: 'DE8120394756', name: 'Hanse Import & Export GmbH', country: 'DE' },
  { id: 'US987654321000', name: 'Great Lakes Distribution LLC', country: 'US' },
  { id: '', name: 'Boutique Marie-Claire', country: 'FR' },
  { id: 'CH-E123.456.789', name: 'Zürcher Handelshaus AG', country: 'CH' },
  { id: 'AU51824753556', name: 'Southern Cross Wholesale Pty Ltd', country: 'AU' },
];
const PLACES = ['Hamburg', 'Rotterdam', 'Shanghai', 'Los Angeles', 'Le Havre', 'Felixstowe', 'Yokohama'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'CNY', 'JPY', 'CHF'];
const ORIGINS = ['DE', 'FR', 'IT', 'CN', 'US', 'GB', 'VN', 'JP', 'ES', 'MX', 'TW', 'IN', 'TR', 'PL', 'XK'];
const UNITS = ['C62', 'H87', 'KGM', 'LTR', 'PR'];
/** Text locales an invoice is written in; `undefined` leaves the locale to the batch (en-US by default). */
const TEXT_LOCALES: ReadonlyArray<Locale | undefined> = [undefined, undefined, 'en-US', 'en-GB', 'de-DE', 'fr-FR'];
/** Fields whose OCR confidence holds a record when low (a subset of classify's key fields). */
const OCR_KEY_FIELDS = ['invoice_number', 'invoice_total', 'currency', 'exporter.id'];
const OCR_LINE_KEY_FIELDS = ['hs_code', 'quantity', 'unit_price', 'line_total', 'origin_country'];
const MISSING_FIELDS = [
  'invoice_date',
  'exporter.name',
  'importer.name',
  'incoterm',
  'currency',
  'invoice_total',
  'lines[].description',
  'lines[].quantity',
  'lines[].unit_price',
  'lines[].line_total',
  'lines[].hs_code',
  'lines[].origin_country',
];
const DUPLICATE_POOL_SIZE = 4096;

/** One invoice as drafted, before it is written in a format. Amounts are canonical decimal text. */
export interface Draft {
  invoiceNumber: string;
  date: string;
  locale: Locale | undefined;
  grouping: boolean;
  groupWith: number;
  isoDate: boolean;
  jsonNumbers: boolean;
  exporter: { id: string; name: string; country: string };
  importer: { id: string; name: string; country: string };
  incoterm: string;
  currency: string;
  lines: {
    lineNo: number;
    description: string;
    quantity: string;
    unit: string;
    unitPrice: string;
    lineTotal: string;
    hs: string;
    origin: string;
  }[];
  invoiceTotal: string;
  packing?: { packages: number; gross: string; net: string; lines?: { lineNo: number; packages: number }[] };
  /** XML: write the packing list as standard UBL Shipment elements instead of the sluice extension. */
  viaShipment: boolean;
  ocr?: Record<string, string>;
  /** Exact text for a field path in every format (a planted defect); `null` leaves the field out. */
  raw: Record<string, string | null>;
}

/** Writes `out` in `opts.format` (default json) and returns the expected outcome. */
export async function generateCustomsInvoices(out: string, opts: GenerateOptions): Promise<ExpectedOutcome> {
  const { records, seed } = opts;
  const fmt = (opts.format ?? 'json') as CustomsFormat;
  if (!CUSTOMS_FORMATS.includes(fmt))
    throw new RangeError(`customs generates ${CUSTOMS_FORMATS.join(', ')}, not ${fmt}`);
  if (!Number.isSafeInteger(records) || records < 0) throw new RangeError(`records must be a count, got ${records}`);
  const thresholds = cumulativeRates(DEFECTS, opts.defects, 'customs');
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number): boolean => rnd() < p;
  // Invoice numbers carry the seed: the ledger is global, and files of different seeds must never share a key.
  const seedTag = seed.toString(36).toUpperCase();

  const money = (lo: number, hi: number, decimals = 2): string => {
    const units = int(lo * 10 ** decimals, hi * 10 ** decimals);
    return format({ units: BigInt(units), scale: decimals });
  };

  const draftInvoice = (invoiceNumber: string, exporter: (typeof EXPORTERS)[number], big: boolean): Draft => {
    const locale = pick(TEXT_LOCALES);
    const lineCount = chance(0.5) ? 1 : int(2, 5);
    const lines: Draft['lines'] = [];
    let total: Decimal = decimal('0');
    let net: Decimal = decimal('0');
    for (let l = 0; l < lineCount; l++) {
      const [code, , item] = pick(GENERATOR_HS_CODES);
      const unit = pick(UNITS);
      const quantity = unit === 'KGM' || unit === 'LTR' ? money(1, 500, int(0, 3)) : String(int(1, 500));
      // Unit prices mostly in cents, sometimes to a hundredth of a cent (bulk parts); the line total is rounded
      // to cents, which the tolerance absorbs.
      const unitPrice = big && l === 0 ? money(1000, 9000) : chance(0.8) ? money(0, 250) : money(0, 5, 4);
      const lineTotal = format(round(mul(decimal(quantity), decimal(unitPrice)), 2));
      total = add(total, decimal(lineTotal));
      net = add(net, mul(decimal(quantity), decimal(money(0, 5, 1))));
      // National tariff lines (8 or 10 digits) and dotted notation are as valid as the 6-digit subheading.
      const hs = chance(0.2)
        ? code + pick(['00', '90', '1000', '9000'])
        : chance(0.1)
          ? `${code.slice(0, 4)}.${code.slice(4)}`
          : code;
      lines.push({
        lineNo: l + 1,
        description: item,
        quantity,
        unit,
        unitPrice,
        lineTotal,
        hs,
        origin: chance(0.7) ? exporter.country : pick(ORIGINS),
      });
    }
    // Stated totals may be off by exactly the tolerance (0.01), which still matches.
    const invoiceTotal = format(chance(0.05) ? add(total, decimal('0.01')) : total);
    let packing: Draft['packing'];
    if (chance(0.8)) {
      const netKg = round(add(net, decimal('0.5')), 3);
      const tare = chance(0.1) ? decimal('0') : decimal(money(0, 50, 1));
      const perLine = lines.map((l) => ({ lineNo: l.lineNo, packages: int(1, 12) }));
      packing = {
        packages: perLine.reduce((s, l) => s + l.packages, 0),
        gross: format(add(netKg, tare)),
        net: format(netKg),
        ...(chance(0.5) ? { lines: perLine } : {}),
      };
    }
    let ocr: Record<string, string> | undefined;
    if (chance(0.3)) {
      ocr = {};
      for (const f of OCR_KEY_FIELDS) if (chance(0.6)) ocr[f] = money(0.85, 1);
      ocr[`lines[0].${pick(OCR_LINE_KEY_FIELDS)}`] = chance(0.3) ? '0.85' : money(0.85, 1);
      // Low confidence on a field that is not key holds nothing.
      if (chance(0.3)) ocr['lines[0].description'] = money(0.1, 0.8);
    }
    const importer = pick(IMPORTERS);
    return {
      invoiceNumber,
      date: `${int(2023, 2025)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}`,
      locale,
      grouping: chance(0.5),
      groupWith: int(0, 2),
      isoDate: chance(0.2),
      jsonNumbers: chance(0.3),
      exporter,
      importer,
      incoterm: chance(0.6) ? pick(INCOTERMS_2020) : `${pick(INCOTERMS_2020)} ${pick(PLACES)}`,
      currency: pick(CURRENCIES),
      lines,
      invoiceTotal,
      ...(packing === undefined ? {} : { packing }),
      viaShipment: packing?.lines === undefined && chance(0.5),
      ...(ocr === undefined ? {} : { ocr }),
      raw: {},
    };
  };

  /** Plants `defect` in a clean draft (at most one per invoice). */
  const plant = (d: Draft, defect: Defect): void => {
    const lineAt = int(0, d.lines.length - 1);
    switch (defect) {
      case 'missing_field': {
        const field = pick(MISSING_FIELDS).replace('[]', `[${lineAt}]`);
        d.raw[field] = chance(0.7) ? null : '';
        break;
      }
      case 'locale_number': {
        // Drafted with a first line of 1000 or more, so the value has a thousands group; written in the other
        // convention (1.234,56 where 1,234.56 is meant, or the reverse), which neither the invoice's locale nor
        // XML Schema reads.
        const field = chance(0.5) ? 'invoice_total' : 'lines[0].unit_price';
        const value = field === 'invoice_total' ? d.invoiceTotal : d.lines[0]!.unitPrice;
        const other: Locale = d.locale === 'de-DE' ? 'en-US' : 'de-DE';
        const text = formatNumber(value, other, true);
        if (parseNumber(text, d.locale ?? 'en-US').ok || parseNumber(text, 'iso').ok) {
          throw new Error(`generator: ${text} would parse under ${d.locale ?? 'en-US'} or iso`);
        }
        d.raw[field] = text;
        break;
      }
      case 'invalid_date': {
        const [y] = d.date.split('-');
        d.raw.invoice_date = pick([`${y}-02-30`, `${y}-04-31`, `${y}-13-01`]);
        if (d.locale !== undefined && chance(0.5)) d.raw.invoice_date = formatDate(`${y}-02-30`, d.locale);
        break;
      }
      case 'invalid_incoterm':
        d.raw.incoterm = pick(BAD_INCOTERMS);
        break;
      case 'invalid_currency':
        d.raw.currency = pick(BAD_CURRENCIES);
        break;
      case 'invalid_country':
        d.raw[`lines[${lineAt}].origin_country`] = pick(BAD_COUNTRIES);
        break;
      case 'invalid_hs_code':
        d.raw[`lines[${lineAt}].hs_code`] = pick(BAD_HS_CODES);
        break;
      case 'unknown_hs_code':
        d.raw[`lines[${lineAt}].hs_code`] = pick(UNKNOWN_HS_CODES);
        break;
      case 'total_mismatch': {
        const delta = decimal(money(0.02, 500));
        if (chance(0.5)) {
          d.invoiceTotal = format(add(decimal(d.invoiceTotal), delta));
        } else {
          // A line whose total is not quantity × price, with an invoice total that agrees with the wrong line.
          const line = d.lines[lineAt]!;
          line.lineTotal = format(add(decimal(line.lineTotal), delta));
          d.invoiceTotal = format(add(decimal(d.invoiceTotal), delta));
        }
        break;
      }
      case 'weight_inconsistent': {
        const net = decimal(money(10, 900, 1));
        d.packing = {
          packages: d.packing?.packages ?? int(1, 20),
          net: format(net),
          gross: format(sub(net, decimal(money(0.1, 9, 1)))),
          ...(d.packing?.lines ? { lines: d.packing.lines } : {}),
        };
        break;
      }
      case 'package_count_mismatch': {
        const lines = d.lines.map((l) => ({ lineNo: l.lineNo, packages: int(1, 12) }));
        const sum = lines.reduce((s, l) => s + l.packages, 0);
        d.packing = {
          packages: chance(0.5) || sum === 1 ? sum + int(1, 5) : sum - 1,
          net: d.packing?.net ?? '100.0',
          gross: d.packing?.gross ?? '112.5',
          lines,
        };
        d.viaShipment = false;
        break;
      }
      case 'low_confidence': {
        const field = chance(0.5) ? pick(OCR_KEY_FIELDS) : `lines[${lineAt}].${pick(OCR_LINE_KEY_FIELDS)}`;
        d.ocr = { ...d.ocr, [field]: money(0.4, 0.84) };
        break;
      }
      case 'duplicate':
        break;
    }
  };

  const outcome: ExpectedOutcome = newOutcome('customs', records, seed, fmt);
  const pool: Array<{ invoiceNumber: string; exporter: number }> = [];
  let committedSeen = 0;

  const file = createWriteStream(out);
  const writer = new BatchedWriter(file);
  try {
    if (fmt === 'json') await writer.write('[\n');
    if (fmt === 'xml') await writer.write(XML_HEAD);
    if (fmt === 'csv') await writer.write(`${CSV_COLUMNS.join(',')}\n`);
    for (let i = 0; i < records; i++) {
      const u = rnd();
      const defect = DEFECTS.find((_, k) => u < thresholds[k]!);
      const original = defect === 'duplicate' && pool.length > 0 ? pick(pool) : undefined;
      const exporterAt = original?.exporter ?? int(0, EXPORTERS.length - 1);
      const invoiceNumber = original?.invoiceNumber ?? `CI-${seedTag}-${String(i + 1).padStart(7, '0')}`;
      const draft = draftInvoice(invoiceNumber, EXPORTERS[exporterAt]!, defect === 'locale_number');
      if (defect !== undefined && defect !== 'duplicate') plant(draft, defect);

      if (fmt === 'json') await writer.write(`${i === 0 ? '' : ',\n'}${JSON.stringify(sourceOf(draft, 'json'))}`);
      else if (fmt === 'ndjson') await writer.write(`${JSON.stringify(sourceOf(draft, 'json'))}\n`);
      else if (fmt === 'xml') await writer.write(xmlOf(draft));
      else await writer.write(csvRowsOf(draft));

      if (original) outcome.duplicates++;
      else if (defect !== undefined && defect !== 'duplicate') {
        // Every defect is named after the reason code it is quarantined with.
        countHeld(outcome, defect);
      } else {
        outcome.committed++;
        committedSeen++;
        // Reservoir sampling (algorithm R): every committed key so far is equally likely to be in the pool.
        const entry = { invoiceNumber, exporter: exporterAt };
        if (pool.length < DUPLICATE_POOL_SIZE) pool.push(entry);
        else {
          const slot = Math.floor(rnd() * committedSeen);
          if (slot < DUPLICATE_POOL_SIZE) pool[slot] = entry;
        }
      }
    }
    if (fmt === 'json') await writer.write('\n]\n');
    if (fmt === 'xml') await writer.write('</Invoices>\n');
    await writer.flush();
    file.end();
    await finished(file);
  } catch (err) {
    // Destroying a file stream with a write in flight emits ERR_STREAM_DESTROYED: ours to ignore, not uncaught.
    file.on('error', () => undefined);
    file.destroy();
    throw err;
  } finally {
    writer.release();
  }
  return outcome;
}

/**
 * The HS nomenclature the generated invoices need, next to `out` (`<out>.hs.csv`, the HS 2022 file's shape): the
 * subheadings of `GENERATOR_HS_CODES`, so `sluice generate` works without the full nomenclature at hand.
 */
export async function writeGeneratorReferences(out: string): Promise<Record<string, string>> {
  const file = `${out}.hs.csv`;
  const rows = GENERATOR_HS_CODES.map(
    ([code, section, item]) => `${section},${code},${csvCell(item)},${code.slice(0, 4)},6`,
  );
  await writeFile(file, `section,hscode,description,parent,level\n${rows.join('\n')}\n`);
  return { hs: file };
}

// ---------------------------------------------------------------------------------------------------------------
// Writing a draft in each format

type Source = Record<string, unknown>;

/**
 * The draft in the source shape (what readers produce): numbers and dates as text in the draft's locale (JSON may
 * write plain JSON numbers instead), or in XML Schema form for XML; planted raw values replace or remove fields.
 */
export function sourceOf(d: Draft, target: 'json' | 'text' | 'xml'): Source {
  const locale: Locale = target === 'xml' ? 'iso' : (d.locale ?? 'en-US');
  const asNumber = target === 'json' && d.jsonNumbers;
  const num = (canonical: string): string | number =>
    asNumber ? Number(canonical) : formatNumber(canonical, locale, d.grouping, d.groupWith);
  const src: Source = {
    invoice_number: d.invoiceNumber,
    invoice_date: d.isoDate || target === 'xml' ? d.date : formatDate(d.date, locale),
    ...(d.locale !== undefined && target !== 'xml' ? { locale: d.locale } : {}),
    exporter: { ...d.exporter },
    importer: d.importer.id === '' ? { name: d.importer.name, country: d.importer.country } : { ...d.importer },
    incoterm: d.incoterm,
    currency: d.currency,
    invoice_total: num(d.invoiceTotal),
    lines: d.lines.map((l) => ({
      line_no: l.lineNo,
      description: l.description,
      quantity: num(l.quantity),
      unit: l.unit,
      unit_price: num(l.unitPrice),
      line_total: num(l.lineTotal),
      hs_code: l.hs,
      origin_country: l.origin,
    })),
    ...(d.packing === undefined
      ? {}
      : {
          packing_list: {
            packages: d.packing.packages,
            gross_weight_kg: num(d.packing.gross),
            net_weight_kg: num(d.packing.net),
            ...(d.packing.lines
              ? { lines: d.packing.lines.map((l) => ({ line_no: l.lineNo, packages: l.packages })) }
              : {}),
          },
        }),
    ...(d.ocr === undefined
      ? {}
      : {
          ocr_confidence: Object.fromEntries(
            Object.entries(d.ocr).map(([k, v]) => [k, target === 'json' ? Number(v) : formatNumber(v, locale)]),
          ),
        }),
  };
  for (const [path, value] of Object.entries(d.raw)) setPath(src, path, value);
  return src;
}

/** Sets (or with `null` deletes) `a.b` or `lines[2].c` in `src`. */
function setPath(src: Source, path: string, value: string | null): void {
  const steps = path.split(/\.|(?=\[)/).map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s));
  let at: Record<string | number, unknown> = src;
  for (const step of steps.slice(0, -1)) at = at[step] as Record<string | number, unknown>;
  const last = steps[steps.length - 1]!;
  if (value === null) delete at[last];
  else at[last] = value;
}

function csvRowsOf(d: Draft): string {
  const s = sourceOf(d, 'text') as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const text = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
  const packing = s.packing_list as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const ocr = s.ocr_confidence as Record<string, string> | undefined;
  const head = [
    s.invoice_number,
    s.invoice_date,
    s.locale,
    s.exporter?.id,
    s.exporter?.name,
    s.exporter?.country,
    s.importer?.id,
    s.importer?.name,
    s.importer?.country,
    s.incoterm,
    s.currency,
    s.invoice_total,
    packing?.packages,
    packing?.gross_weight_kg,
    packing?.net_weight_kg,
    ocr === undefined
      ? ''
      : Object.entries(ocr)
          .map(([k, v]) => `${k}=${v}`)
          .join(';'),
  ].map(text);
  const packagesOf = new Map<number, number>(
    (packing?.lines ?? []).map((l: { line_no: number; packages: number }) => [l.line_no, l.packages]),
  );
  return (s.lines as Record<string, unknown>[])
    .map((l) =>
      [
        ...head,
        ...[l.line_no, l.description, l.quantity, l.unit, l.unit_price, l.line_total, l.hs_code, l.origin_country].map(
          text,
        ),
        text(packagesOf.get(l.line_no as number)),
      ]
        .map(csvCell)
        .join(','),
    )
    .map((row) => `${row}\n`)
    .join('');
}

const XML_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<Invoices xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"\n' +
  '  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"\n' +
  '  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"\n' +
  '  xmlns:ext="urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"\n' +
  `  xmlns:sc="${CUSTOMS_EXTENSION_NS}">\n`;

const xmlEscape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One UBL Invoice element (inside the `<Invoices>` wrapper, whose namespace declarations it uses). */
function xmlOf(d: Draft): string {
  const s = sourceOf(d, 'xml') as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const cur = d.currency;
  const el = (name: string, value: unknown, attrs = ''): string =>
    value === undefined || value === null ? '' : `<${name}${attrs}>${xmlEscape(String(value))}</${name}>`;
  const party = (p: Record<string, unknown> | undefined): string =>
    '<cac:Party>' +
    (p?.id === undefined ? '' : `<cac:PartyIdentification>${el('cbc:ID', p.id)}</cac:PartyIdentification>`) +
    (p?.name === undefined ? '' : `<cac:PartyName>${el('cbc:Name', p.name)}</cac:PartyName>`) +
    (p?.country === undefined
      ? ''
      : `<cac:PostalAddress><cac:Country>${el('cbc:IdentificationCode', p.country)}</cac:Country></cac:PostalAddress>`) +
    '</cac:Party>';
  const packing = s.packing_list as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const ocr = s.ocr_confidence as Record<string, string> | undefined;
  const useExtension = packing !== undefined && !d.viaShipment;
  let ext = '';
  if (useExtension || ocr !== undefined) {
    ext =
      '<ext:UBLExtensions><ext:UBLExtension><ext:ExtensionContent><sc:CustomsData>' +
      (useExtension
        ? '<sc:PackingList>' +
          el('sc:Packages', packing.packages) +
          el('sc:GrossWeight', packing.gross_weight_kg, ' unitCode="KGM"') +
          el('sc:NetWeight', packing.net_weight_kg, ' unitCode="KGM"') +
          (packing.lines ?? [])
            .map(
              (l: { line_no: number; packages: number }) =>
                `<sc:Line>${el('sc:LineID', l.line_no)}${el('sc:Packages', l.packages)}</sc:Line>`,
            )
            .join('') +
          '</sc:PackingList>'
        : '') +
      Object.entries(ocr ?? {})
        .map(([k, v]) => `<sc:OcrConfidence field="${xmlEscape(k)}">${v}</sc:OcrConfidence>`)
        .join('') +
      '</sc:CustomsData></ext:ExtensionContent></ext:UBLExtension></ext:UBLExtensions>';
  }
  const shipment =
    packing !== undefined && d.viaShipment
      ? '<cac:Delivery><cac:Shipment><cbc:ID>1</cbc:ID>' +
        el('cbc:GrossWeightMeasure', packing.gross_weight_kg, ' unitCode="KGM"') +
        el('cbc:NetWeightMeasure', packing.net_weight_kg, ' unitCode="KGM"') +
        el('cbc:TotalTransportHandlingUnitQuantity', packing.packages) +
        '</cac:Shipment></cac:Delivery>'
      : '';
  const lines = (s.lines as Record<string, unknown>[])
    .map(
      (l) =>
        '  <cac:InvoiceLine>' +
        el('cbc:ID', l.line_no) +
        el('cbc:InvoicedQuantity', l.quantity, ` unitCode="${l.unit}"`) +
        el('cbc:LineExtensionAmount', l.line_total, ` currencyID="${xmlEscape(cur)}"`) +
        '<cac:Item>' +
        el('cbc:Name', l.description) +
        (l.origin_country === undefined
          ? ''
          : `<cac:OriginCountry>${el('cbc:IdentificationCode', l.origin_country)}</cac:OriginCountry>`) +
        (l.hs_code === undefined
          ? ''
          : `<cac:CommodityClassification>${el('cbc:ItemClassificationCode', l.hs_code, ' listID="HS"')}</cac:CommodityClassification>`) +
        '</cac:Item>' +
        (l.unit_price === undefined
          ? ''
          : `<cac:Price>${el('cbc:PriceAmount', l.unit_price, ` currencyID="${xmlEscape(cur)}"`)}</cac:Price>`) +
        '</cac:InvoiceLine>\n',
    )
    .join('');
  const amount = (name: string, v: unknown): string => el(name, v, ` currencyID="${xmlEscape(cur)}"`);
  const payable = s.invoice_total ?? '0.00';
  return (
    ' <Invoice>\n  ' +
    ext +
    '<cbc:UBLVersionID>2.1</cbc:UBLVersionID>' +
    el('cbc:ID', s.invoice_number) +
    el('cbc:IssueDate', s.invoice_date) +
    '<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>' +
    el('cbc:DocumentCurrencyCode', s.currency) +
    '\n  <cac:AccountingSupplierParty>' +
    party(s.exporter) +
    '</cac:AccountingSupplierParty>\n  <cac:AccountingCustomerParty>' +
    party(s.importer) +
    '</cac:AccountingCustomerParty>\n  ' +
    shipment +
    (s.incoterm === undefined ? '' : `<cac:DeliveryTerms>${el('cbc:ID', s.incoterm)}</cac:DeliveryTerms>`) +
    `<cac:TaxTotal>${amount('cbc:TaxAmount', '0.00')}</cac:TaxTotal>\n  <cac:LegalMonetaryTotal>` +
    amount('cbc:LineExtensionAmount', s.invoice_total) +
    amount('cbc:TaxExclusiveAmount', payable) +
    amount('cbc:TaxInclusiveAmount', payable) +
    amount('cbc:PayableAmount', payable) +
    '</cac:LegalMonetaryTotal>\n' +
    lines +
    ' </Invoice>\n'
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
