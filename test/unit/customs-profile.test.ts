/**
 * The customs profile (seed 001) without the stack: locale parsing, validation and classification rules at their
 * thresholds, the HS nomenclature reader, every format's reader on the samples, malformed input of each format, and
 * the generator's oracle against actually reading, validating and classifying what it wrote.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfile } from '../../src/profiles/index.ts';
import {
  CUSTOMS_REASON_CODES,
  customsBusinessKey,
  customsIdempotencyKey,
  customsProfile,
} from '../../src/profiles/customs/index.ts';
import type { CustomsInvoice } from '../../src/profiles/customs/index.ts';
import { OCR_KEY_FIELDS, classifyCustoms, hsLabel } from '../../src/profiles/customs/classify.ts';
import type { CustomsPrepared } from '../../src/profiles/customs/classify.ts';
import { COUNTRY_CODES, CURRENCY_CODES, INCOTERMS_2020 } from '../../src/profiles/customs/codes.ts';
import { add, compare, decimal, format, round } from '../../src/profiles/customs/decimal.ts';
import {
  DEFAULT_DEFECTS,
  DEFECTS,
  GENERATOR_HS_CODES,
  UNKNOWN_HS_CODES,
} from '../../src/profiles/customs/generator.ts';
import { formatNumber, parseDate, parseNumber } from '../../src/profiles/customs/locale.ts';
import type { Locale } from '../../src/profiles/customs/locale.ts';
import { hsReference } from '../../src/profiles/customs/reference.ts';
import type { HsEntry } from '../../src/profiles/customs/reference.ts';
import { customsOptionsSchema, validateCustoms } from '../../src/profiles/customs/schema.ts';
import type { ExpectedOutcome, InputOptions, ProfileContext, SourceRecord } from '../../src/profiles/types.ts';
import { InputError } from '../../src/profiles/types.ts';
import { sharedDataFile } from '../helpers/shared-data.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SAMPLES = join(REPO, 'samples/customs');
/** The shared HS 2022 nomenclature (never copied into the repository). */
const HS_FILE = sharedDataFile('data/hs2022/harmonized-system.csv');
const CBC = 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2';

let dir: string;
let nomenclature: Map<string, HsEntry>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'customs-'));
  nomenclature = new Map();
  for await (const e of hsReference.read(HS_FILE, basename(HS_FILE))) nomenclature.set(e.key, e.data as HsEntry);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const context = (options: Record<string, unknown> = {}): ProfileContext => ({ options, routing: {} });
const lookup = {
  reference: async (_kind: string, keys: readonly string[]) =>
    new Map(keys.filter((k) => nomenclature.has(k)).map((k) => [k, nomenclature.get(k)])),
  ledger: async () => new Map(),
};
const prepare = (records: CustomsInvoice[], ctx = context()): Promise<CustomsPrepared> =>
  customsProfile.prepareClassify!(records, lookup, ctx);

/** Reads a file as the pipeline does: plan (staging next to a copy of the file) and every chunk read back. */
async function readAll(file: string, input: InputOptions = {}, maxRecords = 100): Promise<SourceRecord[]> {
  const copy = join(await mkdtemp(join(dir, 'in-')), basename(file));
  await copyFile(file, copy);
  let layout: Record<string, unknown> | undefined;
  const chunks = [];
  for await (const p of customsProfile.plan(copy, basename(file), { maxRecords, maxBytes: 1 << 20 }, input)) {
    if ('layout' in p) layout = p.layout;
    else chunks.push(p);
  }
  const records: SourceRecord[] = [];
  for (const chunk of chunks) records.push(...(await customsProfile.readChunk(copy, basename(file), layout!, chunk)));
  return records;
}

interface Disposition {
  status: 'committed' | 'duplicate' | 'quarantined';
  reason?: string;
  label?: string;
  key?: string;
}

/** What the pipeline does with records, chunk by chunk as it would: validate, classify, commit once per key. */
async function dispose(records: SourceRecord[], ctx = context(), committedKeys = new Set<string>()) {
  const out: Disposition[] = [];
  for (let at = 0; at < records.length; at += 100) {
    const chunk = records.slice(at, at + 100);
    const validated = chunk.map((r) =>
      r.parseIssues
        ? ({ ok: false, reasonCode: 'parse_error', issues: r.parseIssues } as const)
        : customsProfile.validate(r.fields, ctx),
    );
    const valid = validated.flatMap((v) => (v.ok ? [v.record] : []));
    const prepared = await prepare(valid, ctx);
    for (const v of validated) {
      if (!v.ok) {
        out.push({ status: 'quarantined', reason: v.reasonCode });
        continue;
      }
      const c = customsProfile.classify(v.record, prepared, ctx);
      const key = customsProfile.idempotencyKey(v.record);
      if (c.hold) out.push({ status: 'quarantined', reason: c.reasonCode, key });
      else if (committedKeys.has(key)) out.push({ status: 'duplicate', key });
      else {
        committedKeys.add(key);
        out.push({ status: 'committed', label: c.label, key });
      }
    }
  }
  const byReason: Record<string, number> = {};
  for (const d of out) if (d.reason) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
  return {
    dispositions: out,
    committed: out.filter((d) => d.status === 'committed').length,
    duplicates: out.filter((d) => d.status === 'duplicate').length,
    quarantined: out.filter((d) => d.status === 'quarantined').length,
    byReason,
  };
}

/** A valid source invoice in en-US (the default locale), to vary field by field. */
const invoice = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  invoice_number: 'INV-1',
  invoice_date: '03/15/2024',
  exporter: { id: 'de 4471203958', name: 'Rheinmetall Werkzeuge GmbH', country: 'de' },
  importer: { name: 'Rotterdam Trading B.V.', country: 'NL' },
  incoterm: 'FOB Hamburg',
  currency: 'eur',
  invoice_total: '1,250.00',
  lines: [
    {
      line_no: 1,
      description: 'Torque wrench',
      quantity: '10',
      unit: 'C62',
      unit_price: '100.00',
      line_total: '1,000.00',
      hs_code: '8204.11',
      origin_country: 'DE',
    },
    {
      line_no: 2,
      description: 'Socket set',
      quantity: '2.5',
      unit_price: '100',
      line_total: '250',
      hs_code: '8204200000',
      origin_country: 'CN',
    },
  ],
  packing_list: {
    packages: 3,
    gross_weight_kg: '12.5',
    net_weight_kg: '11',
    lines: [
      { line_no: 1, packages: 2 },
      { line_no: 2, packages: 1 },
    ],
  },
  ...over,
});
const withLine = (i: number, over: Record<string, unknown>) => {
  const src = invoice();
  const lines = src.lines as Record<string, unknown>[];
  lines[i] = { ...lines[i], ...over };
  return src;
};
const reasonOf = (fields: Record<string, unknown>, options: Record<string, unknown> = {}): string => {
  const v = validateCustoms(fields, context(options));
  return v.ok ? 'ok' : v.reasonCode;
};
const issuesOf = (fields: Record<string, unknown>, options: Record<string, unknown> = {}): string[] => {
  const v = validateCustoms(fields, context(options));
  return v.ok ? [] : v.issues.map((i) => `${i.path}:${i.code}`);
};
const validRecord = (fields: Record<string, unknown> = invoice()): CustomsInvoice => {
  const v = validateCustoms(fields, context());
  if (!v.ok) throw new Error(`invalid: ${JSON.stringify(v.issues)}`);
  return v.record;
};

describe('locale numbers and dates', () => {
  it.each<[string | number, Locale, string | undefined]>([
    ['1.234,56', 'de-DE', '1234.56'],
    ['1.234,56', 'en-US', undefined],
    ['1.234,56', 'fr-FR', undefined],
    ['1.234,56', 'iso', undefined],
    ['1,234.56', 'en-US', '1234.56'],
    ['1,234.56', 'en-GB', '1234.56'],
    ['1,234.56', 'de-DE', undefined],
    ['1,234,567.5', 'en-US', '1234567.5'],
    ['1234.56', 'en-US', '1234.56'],
    ['1234,56', 'de-DE', '1234.56'],
    ['1234.56', 'de-DE', undefined],
    ['12.50', 'de-DE', undefined],
    ['1.234', 'de-DE', '1234'],
    ['1.234', 'en-US', '1.234'],
    ['1,234', 'de-DE', '1.234'],
    ['1,5', 'en-US', undefined],
    ['1,23,456.00', 'en-US', undefined],
    ['1 234,56', 'fr-FR', '1234.56'],
    ['1\u00a0234,56', 'fr-FR', '1234.56'],
    ['1\u202f234\u202f567,5', 'fr-FR', '1234567.5'],
    ['1 234.56', 'en-US', undefined],
    ['1,234.56', 'iso', undefined],
    ['.5', 'iso', '0.5'],
    ['+3.', 'iso', '3'],
    [' -007,50 ', 'de-DE', '-7.50'],
    ['\u221212.5', 'en-US', '-12.5'],
    ['-0,00', 'de-DE', '0.00'],
    ['12 EUR', 'en-US', undefined],
    ['', 'en-US', undefined],
    ['1e3', 'en-US', undefined],
    [12.5, 'de-DE', '12.5'],
    [1000, 'de-DE', '1000'],
    [1e21, 'en-US', undefined],
    [Number.NaN, 'en-US', undefined],
  ])('parseNumber(%j, %s) is %s', (text, locale, expected) => {
    const parsed = parseNumber(text, locale);
    expect(parsed.ok ? parsed.value : undefined).toBe(expected);
  });

  it('says what the locale expects when a number does not parse', () => {
    expect(parseNumber('1.234,56', 'en-US')).toEqual({
      ok: false,
      message: `"1.234,56" is not a number as en-US writes 1,234.56 (',' groups thousands, '.' marks decimals) and dates MM/DD/YYYY`,
    });
  });

  it.each<[string, Locale, string | undefined]>([
    ['2024-03-15', 'en-US', '2024-03-15'],
    ['2024-03-15', 'iso', '2024-03-15'],
    ['03/15/2024', 'en-US', '2024-03-15'],
    ['3/5/2024', 'en-US', '2024-03-05'],
    ['15/03/2024', 'en-US', undefined],
    ['15/03/2024', 'en-GB', '2024-03-15'],
    ['15/03/2024', 'fr-FR', '2024-03-15'],
    ['15.03.2024', 'de-DE', '2024-03-15'],
    ['15.03.2024', 'fr-FR', undefined],
    ['15/03/2024', 'iso', undefined],
    ['29.02.2024', 'de-DE', '2024-02-29'],
    ['29.02.2023', 'de-DE', undefined],
    ['2024-02-30', 'de-DE', undefined],
    ['2024-13-01', 'en-US', undefined],
    ['31/04/2024', 'en-GB', undefined],
    ['2024-3-15', 'en-US', undefined],
  ])('parseDate(%j, %s) is %s', (text, locale, expected) => {
    const parsed = parseDate(text, locale);
    expect(parsed.ok ? parsed.value : undefined).toBe(expected);
  });

  it('formatNumber writes what parseNumber reads, in every locale and grouping', () => {
    for (const locale of ['en-US', 'en-GB', 'de-DE', 'fr-FR', 'iso'] as const) {
      for (const value of ['0.5', '12', '999.99', '1000', '1234567.891', '-45678.9']) {
        for (const grouping of [false, true]) {
          for (const groupWith of [0, 1, 2]) {
            const text = formatNumber(value, locale, grouping, groupWith);
            expect(parseNumber(text, locale)).toEqual({ ok: true, value });
          }
        }
      }
    }
  });

  it('decimal arithmetic is exact', () => {
    expect(compare(add(decimal('0.1'), decimal('0.2')), decimal('0.3'))).toBe(0);
    expect(format(add(decimal('1234.5'), decimal('-0.75')))).toBe('1233.75');
    expect(format(round(decimal('2.345'), 2))).toBe('2.35');
    expect(format(round(decimal('-2.345'), 2))).toBe('-2.35');
    expect(format(round(decimal('2.344'), 2))).toBe('2.34');
    expect(format(round(decimal('7'), 2))).toBe('7.00');
  });
});

describe('code lists', () => {
  it('has the 249 ISO 3166-1 countries and XK, each a region Intl can name', () => {
    expect(COUNTRY_CODES.size).toBe(250);
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    for (const code of COUNTRY_CODES) expect(names.of(code), code).not.toBe(code);
    for (const code of ['UK', 'EU', 'UN', 'XX', 'ZZ', 'QO']) expect(COUNTRY_CODES.has(code), code).toBe(false);
  });

  it('has ISO 4217 currencies, fund codes too, and not withdrawn ones', () => {
    for (const code of ['EUR', 'USD', 'JPY', 'CHF', 'CNY', 'XOF', 'CHE', 'CLF', 'XAU', 'VED']) {
      expect(CURRENCY_CODES.has(code), code).toBe(true);
    }
    for (const code of ['HRK', 'DEM', 'RMB', 'EURO', 'XYZ', 'US$']) expect(CURRENCY_CODES.has(code), code).toBe(false);
  });

  it('has the eleven Incoterms 2020 rules', () => {
    expect([...INCOTERMS_2020].sort()).toEqual(
      ['CFR', 'CIF', 'CIP', 'CPT', 'DAP', 'DDP', 'DPU', 'EXW', 'FAS', 'FCA', 'FOB'].sort(),
    );
  });
});

describe('customs validation', () => {
  it('returns the canonical invoice: locale numbers and dates, upper-cased codes, HS digits as text', () => {
    expect(validateCustoms(invoice(), context())).toEqual({
      ok: true,
      record: {
        invoice_number: 'INV-1',
        invoice_date: '2024-03-15',
        exporter: { id: 'DE4471203958', name: 'Rheinmetall Werkzeuge GmbH', country: 'DE' },
        importer: { name: 'Rotterdam Trading B.V.', country: 'NL' },
        incoterm: 'FOB',
        incoterm_place: 'Hamburg',
        currency: 'EUR',
        lines: [
          {
            line_no: 1,
            description: 'Torque wrench',
            quantity: '10',
            unit: 'C62',
            unit_price: '100.00',
            line_total: '1000.00',
            hs_code: '820411',
            origin_country: 'DE',
          },
          {
            line_no: 2,
            description: 'Socket set',
            quantity: '2.5',
            unit_price: '100',
            line_total: '250',
            hs_code: '8204200000',
            origin_country: 'CN',
          },
        ],
        invoice_total: '1250.00',
        packing_list: {
          packages: 3,
          gross_weight_kg: '12.5',
          net_weight_kg: '11',
          lines: [
            { line_no: 1, packages: 2 },
            { line_no: 2, packages: 1 },
          ],
        },
      },
    });
  });

  it('reads numbers and dates in the declared locale: the record first, then profile_options.locale', () => {
    const german = invoice({ invoice_total: '1.250,00', invoice_date: '15.03.2024', packing_list: undefined });
    expect(issuesOf(german)).toEqual(['invoice_date:invalid_date', 'invoice_total:not_a_number']);
    expect(reasonOf(german)).toBe('locale_number');
    expect(reasonOf(german, { locale: 'de-DE' })).toBe('locale_number'); // the line amounts are en-US
    const lines = (german.lines as Record<string, unknown>[]).map((l, i) =>
      i === 0 ? { ...l, unit_price: '100,00', line_total: '1.000,00' } : { ...l, quantity: '2,5' },
    );
    expect(reasonOf({ ...german, lines }, { locale: 'de-DE' })).toBe('ok');
    expect(reasonOf({ ...german, lines, locale: 'de-DE' })).toBe('ok');
    expect(validRecord({ ...german, lines, locale: 'de-DE' }).invoice_total).toBe('1250.00');
    expect(issuesOf({ ...german, lines, locale: 'de-CH' })).toContain('locale:unknown_locale');
  });

  it('reconciles line totals with the invoice total within the tolerance, exactly', () => {
    expect(reasonOf(invoice({ invoice_total: '1250.01' }))).toBe('ok');
    expect(reasonOf(invoice({ invoice_total: '1249.99' }))).toBe('ok');
    expect(issuesOf(invoice({ invoice_total: '1250.011' }))).toEqual(['invoice_total:total_mismatch']);
    expect(reasonOf(invoice({ invoice_total: '1250.02' }))).toBe('total_mismatch');
    expect(reasonOf(invoice({ invoice_total: '1250.50' }), { total_tolerance: 0.5 })).toBe('ok');
    expect(reasonOf(invoice({ invoice_total: '1250.51' }), { total_tolerance: '0.5' })).toBe('total_mismatch');
    expect(reasonOf(invoice({ invoice_total: '1250.01' }), { total_tolerance: 0 })).toBe('total_mismatch');
  });

  it('checks each line total against quantity × unit price', () => {
    const exact = withLine(1, { quantity: '2.505', line_total: '250.50' }); // 250.5 exactly
    exact.invoice_total = '1250.50';
    expect(reasonOf(exact)).toBe('ok');
    expect(reasonOf(withLine(0, { unit_price: '100.001' }))).toBe('ok'); // 1000.01 vs 1000.00
    expect(issuesOf(withLine(0, { unit_price: '100.0011' }))).toEqual(['lines[0].line_total:line_total_mismatch']);
    const wrongLine = withLine(0, { line_total: '1,100.00' });
    wrongLine.invoice_total = '1,350.00';
    expect(issuesOf(wrongLine)).toEqual(['lines[0].line_total:line_total_mismatch']);
    expect(reasonOf(wrongLine)).toBe('total_mismatch');
  });

  it('checks the packing list: gross not below net, line packages adding up', () => {
    const packing = (over: Record<string, unknown>) =>
      invoice({ packing_list: { ...(invoice().packing_list as object), ...over } });
    expect(reasonOf(packing({ gross_weight_kg: '11.0' }))).toBe('ok');
    expect(issuesOf(packing({ gross_weight_kg: '10.999' }))).toEqual(['packing_list.gross_weight_kg:gross_below_net']);
    expect(reasonOf(packing({ gross_weight_kg: '10.999' }))).toBe('weight_inconsistent');
    expect(issuesOf(packing({ packages: 4 }))).toEqual(['packing_list.packages:package_count_mismatch']);
    expect(reasonOf(packing({ packages: '2' }))).toBe('package_count_mismatch');
    expect(reasonOf(packing({ lines: undefined, packages: 7 }))).toBe('ok');
    expect(issuesOf(packing({ packages: '2.5' }))).toEqual(['packing_list.packages:not_integer']);
    expect(issuesOf(packing({ packages: 0, lines: undefined }))).toEqual(['packing_list.packages:not_positive']);
    expect(issuesOf(packing({ lines: [{ line_no: 9, packages: 3 }] }))).toEqual([
      'packing_list.lines[0].line_no:unknown_line',
    ]);
    expect(reasonOf(invoice({ packing_list: undefined }))).toBe('ok');
  });

  it.each([
    ['8504', 'invalid_hs_code'],
    ['85044', 'invalid_hs_code'],
    ['8504401', 'invalid_hs_code'],
    ['850440123', 'invalid_hs_code'],
    ['85044012345', 'invalid_hs_code'],
    ['HS850440', 'invalid_hs_code'],
    ['850440', 'ok'],
    ['8504.40', 'ok'],
    ['8504 40 90', 'ok'],
    ['85044090', 'ok'],
    ['8504409000', 'ok'],
  ])('HS code %j is %s', (code, expected) => {
    expect(reasonOf(withLine(0, { hs_code: code }))).toBe(expected);
  });

  it('says why an HS code written as a JSON number is wrong', () => {
    const v = validateCustoms(withLine(0, { hs_code: 10121 }), context());
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.issues[0]!.message).toContain('lost its leading zero');
  });

  it.each([
    [{ incoterm: 'DAT' }, 'invalid_incoterm'],
    [{ incoterm: 'C&F' }, 'invalid_incoterm'],
    [{ incoterm: 'FOBB' }, 'invalid_incoterm'],
    [{ incoterm: 'fca' }, 'ok'],
    [{ incoterm: 'CIF Rotterdam Incoterms® 2020' }, 'ok'],
    [{ currency: 'EURO' }, 'invalid_currency'],
    [{ currency: 'HRK' }, 'invalid_currency'],
    [{ currency: 'CHF' }, 'ok'],
    [{ exporter: { id: 'X1', name: 'A', country: 'UK' } }, 'invalid_country'],
    [{ importer: { name: 'B', country: 'XK' } }, 'ok'],
    [{ invoice_date: '02/30/2024' }, 'invalid_date'],
    [{ invoice_total: '-1,250.00' }, 'invalid_amount'],
    [{ invoice_number: '  ' }, 'missing_field'],
    [{ exporter: { name: 'No id GmbH' } }, 'missing_field'],
    [{ importer: undefined }, 'missing_field'],
    [{ lines: [], packing_list: undefined }, 'missing_field'],
    [{ currency: null }, 'missing_field'],
    [{ notes: 'unexpected' }, 'schema_violation'],
    [{ lines: 'one line' }, 'schema_violation'],
    [{ invoice_total: { amount: 1 } }, 'schema_violation'],
  ])('%j is %s', (over, expected) => {
    expect(reasonOf(invoice(over as Record<string, unknown>))).toBe(expected);
  });

  it.each([
    [{ origin_country: 'GER' }, 'lines[1].origin_country:invalid_country', 'invalid_country'],
    [{ quantity: '0' }, 'lines[1].quantity:not_positive', 'invalid_amount'],
    [{ quantity: '2,5' }, 'lines[1].quantity:not_a_number', 'locale_number'],
    [{ description: '' }, 'lines[1].description:empty', 'missing_field'],
    [{ line_no: 1 }, 'lines[1].line_no:invalid_line_no', 'schema_violation'],
    [{ colour: 'red' }, 'lines[1].colour:unknown_field', 'schema_violation'],
  ])('line %j gives %s', (over, issue, reason) => {
    expect(issuesOf(withLine(1, over))).toContain(issue);
    expect(reasonOf(withLine(1, over))).toBe(reason);
  });

  it('collects every issue and files the invoice under the highest-priority reason', () => {
    const fields = invoice({ currency: 'EURO', incoterm: 'DAT', invoice_date: '' });
    expect(issuesOf(fields)).toEqual(['invoice_date:empty', 'incoterm:invalid_incoterm', 'currency:invalid_currency']);
    expect(reasonOf(fields)).toBe('missing_field');
  });

  it('checks OCR confidences are 0..1, read in the locale', () => {
    expect(
      validRecord(invoice({ ocr_confidence: { invoice_total: '0.9', 'lines[0].hs_code': 1 } })).ocr_confidence,
    ).toEqual({ invoice_total: 0.9, 'lines[0].hs_code': 1 });
    expect(issuesOf(invoice({ ocr_confidence: { invoice_total: 1.2 } }))).toEqual([
      'ocr_confidence.invoice_total:out_of_range',
    ]);
  });

  it('checks profile_options strictly, with defaults', () => {
    expect(customsOptionsSchema.parse({})).toEqual({
      locale: 'en-US',
      total_tolerance: '0.01',
      min_ocr_confidence: 0.85,
    });
    expect(customsOptionsSchema.safeParse({ locale: 'xx-YY' }).success).toBe(false);
    expect(customsOptionsSchema.safeParse({ tolerance: 0.1 }).success).toBe(false);
    expect(customsOptionsSchema.safeParse({ total_tolerance: -1 }).success).toBe(false);
    expect(customsOptionsSchema.safeParse({ min_ocr_confidence: 1.5 }).success).toBe(false);
  });
});

describe('customs classification', () => {
  it('labels a valid invoice by the HS section and chapter of its largest line', async () => {
    const record = validRecord();
    const c = classifyCustoms(record, await prepare([record]));
    expect(c).toEqual({ hold: false, label: 'section XV chapter 82' });
    expect(hsLabel(record, new Map())).toBe('chapter 82');
  });

  it('holds an invoice whose first six HS digits are not in the nomenclature; national digits are kept', async () => {
    const record = validRecord(withLine(1, { hs_code: '85171200' }));
    expect(record.lines[1]!.hs_code).toBe('85171200');
    const c = classifyCustoms(record, await prepare([record]));
    expect(c).toMatchObject({ hold: true, reasonCode: 'unknown_hs_code' });
    if (c.hold)
      expect(c.issues.map((i) => `${i.path}:${i.code}:${i.value}`)).toEqual([
        'lines[1].hs_code:unknown_hs_code:85171200',
      ]);
    const national = validRecord(withLine(1, { hs_code: '8517130099' }));
    expect(classifyCustoms(national, await prepare([national]))).toMatchObject({ hold: false });
  });

  it('holds an invoice with OCR confidence below the minimum on a key field, at the threshold not', async () => {
    const at = (ocr: Record<string, number>, options: Record<string, unknown> = {}) => {
      const record = validRecord(invoice({ ocr_confidence: ocr }));
      return classifyCustoms(record, { hs: nomenclature }, context(options));
    };
    expect(at({ invoice_total: 0.85 })).toMatchObject({ hold: false });
    expect(at({ invoice_total: 0.849 })).toMatchObject({ hold: true, reasonCode: 'low_confidence' });
    expect(at({ 'lines[1].hs_code': 0.5 })).toMatchObject({ hold: true, reasonCode: 'low_confidence' });
    expect(at({ 'lines[1].description': 0.1, 'importer.name': 0.2 })).toMatchObject({ hold: false });
    expect(at({ invoice_total: 0.88 }, { min_ocr_confidence: 0.9 })).toMatchObject({ reasonCode: 'low_confidence' });
    expect(OCR_KEY_FIELDS.has('lines[].hs_code')).toBe(true);
  });

  it('puts low confidence before an unknown HS code (a misread code explains the unknown one)', async () => {
    const record = validRecord(invoice({ ocr_confidence: { 'lines[0].hs_code': 0.4 } }));
    record.lines[0]!.hs_code = '851712';
    const c = classifyCustoms(record, await prepare([record]));
    expect(c).toMatchObject({ hold: true, reasonCode: 'low_confidence' });
    if (c.hold) expect(c.issues.map((i) => i.code)).toEqual(['low_confidence', 'unknown_hs_code']);
  });

  it('keys an invoice by invoice number and exporter id, whatever else differs', () => {
    const a = validRecord();
    const b = validRecord(
      invoice({ exporter: { id: 'DE 447 120 3958', name: 'Other name' }, invoice_total: '1250.01' }),
    );
    expect(customsBusinessKey(a)).toBe('INV-1/DE4471203958');
    expect(customsIdempotencyKey(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(customsIdempotencyKey(b)).toBe(customsIdempotencyKey(a));
    expect(customsIdempotencyKey(validRecord(invoice({ invoice_number: 'INV-2' })))).not.toBe(customsIdempotencyKey(a));
  });
});

describe('HS nomenclature reference data', () => {
  it('reads the shared HS 2022 file: chapters, headings and subheadings by code, aggregate rows skipped', () => {
    expect(nomenclature.size).toBe(6939);
    expect(nomenclature.get('850440')).toEqual({
      section: 'XVI',
      description: 'Electrical static converters',
      parent: '8504',
      level: 6,
    });
    expect(nomenclature.get('85')?.level).toBe(2);
    expect(nomenclature.has('TOTAL')).toBe(false);
  });

  it('gives national lines their 6-digit subheading, and rejects a bad code with its line', async () => {
    const file = join(dir, 'national.csv');
    await writeFile(file, 'hscode,description\n8504.40.90,Other static converters\n850440,Static converters\n');
    const entries = [];
    for await (const e of hsReference.read(file, 'national.csv')) entries.push(e);
    expect(entries.map((e) => e.key)).toEqual(['850440', '85044090', '850440']);
    await writeFile(file, 'hscode,description\n850440,ok\n85A440,bad\n');
    await expect(async () => {
      for await (const _ of hsReference.read(file, 'national.csv'));
    }).rejects.toThrow('national.csv: line 3: HS code "85A440" is not 2 to 10 digits');
    await writeFile(file, 'code_hs,description\n850440,ok\n');
    await expect(async () => {
      for await (const _ of hsReference.read(file, 'national.csv'));
    }).rejects.toThrow(InputError);
  });
});

describe('readers on the samples', () => {
  it('reads invoices.json (de-DE, en-US with JSON numbers) into source records', async () => {
    const records = await readAll(join(SAMPLES, 'invoices.json'));
    expect(records.map((r) => r.location.position)).toEqual(['$[0]', '$[1]', '$[2]', '$[3]']);
    expect(validRecord(records[0]!.fields)).toMatchObject({
      invoice_number: 'RW-2024-00117',
      invoice_date: '2024-03-14',
      incoterm: 'FCA',
      incoterm_place: 'Duisburg',
      invoice_total: '17465.00',
      lines: [{ hs_code: '820411', line_total: '9725.00' }, { hs_code: '82042000' }],
      packing_list: { packages: 12, gross_weight_kg: '1245.5', net_weight_kg: '1180.0' },
    });
    expect(validRecord(records[1]!.fields)).toMatchObject({ invoice_date: '2024-04-22', invoice_total: '4835.5' });
    const outcome = await dispose(records);
    expect(outcome.dispositions.map((d) => d.label ?? d.reason)).toEqual([
      'section XV chapter 82',
      'section XII chapter 64',
      'low_confidence',
      'total_mismatch',
    ]);
  });

  it('reads invoices.ndjson: a broken line is a located parse error, a respelt exporter id a duplicate', async () => {
    const records = await readAll(join(SAMPLES, 'invoices.ndjson'));
    expect(records).toHaveLength(4);
    expect(records[2]).toMatchObject({ recordNo: 3, location: { line: 3 }, parseIssues: [{ code: 'invalid_json' }] });
    const outcome = await dispose(records);
    expect(outcome.dispositions.map((d) => (d.status === 'duplicate' ? 'duplicate' : (d.label ?? d.reason)))).toEqual([
      'section II chapter 09',
      'locale_number',
      'parse_error',
      'duplicate',
    ]);
  });

  it('reads invoices.xml (UBL): parties, Incoterms, HS codes, Shipment and extension packing lists, OCR', async () => {
    const records = await readAll(join(SAMPLES, 'invoices.xml'));
    expect(records.map((r) => r.location.position)).toEqual([
      '/Invoices/Invoice[1]',
      '/Invoices/Invoice[2]',
      '/Invoices/Invoice[3]',
    ]);
    expect(records[0]!.location.line).toBe(10);
    expect(records[0]!.fields).toEqual({
      invoice_number: 'SLP-2024-0410',
      invoice_date: '2024-04-10',
      locale: 'iso',
      exporter: { id: 'FR31245678900017', name: 'Société Lyonnaise de Porcelaine', country: 'FR' },
      importer: { id: 'CH-E123.456.789', name: 'Zürcher Handelshaus AG', country: 'CH' },
      incoterm: 'DAP Zürich',
      currency: 'EUR',
      invoice_total: '6120.00',
      lines: [
        {
          line_no: '1',
          description: 'Porcelain dinner plate, 27 cm',
          quantity: '240',
          unit: 'C62',
          unit_price: '18.00',
          line_total: '4320.00',
          hs_code: '69111000',
          origin_country: 'FR',
        },
        {
          line_no: '2',
          description: 'Porcelain tea cup & saucer',
          quantity: '120',
          unit: 'C62',
          unit_price: '15.00',
          line_total: '1800.00',
          hs_code: '691110',
          origin_country: 'FR',
        },
      ],
      packing_list: { packages: '6', gross_weight_kg: '96.4', net_weight_kg: '81.250' },
    });
    expect(records[1]!.fields).toMatchObject({
      exporter: { id: 'IT02345678901' },
      incoterm: 'CIP',
      packing_list: {
        packages: '9',
        gross_weight_kg: '310.5',
        net_weight_kg: '288.0',
        lines: [
          { line_no: '1', packages: '6' },
          { line_no: '2', packages: '3' },
        ],
      },
      ocr_confidence: { invoice_number: '0.96', invoice_total: '0.91', 'lines[1].hs_code': '0.85' },
    });
    const outcome = await dispose(records);
    expect(outcome.dispositions.map((d) => d.label ?? d.reason)).toEqual([
      'section XIII chapter 69',
      'section III chapter 15',
      'unknown_hs_code',
    ]);
  });

  it('reads invoices.csv: rows grouped into invoices, invoice columns once, line packages', async () => {
    const records = await readAll(join(SAMPLES, 'invoices.csv'));
    expect(records.map((r) => r.location.position)).toEqual(['lines 2-3', 'line 4', 'line 5', 'line 6']);
    expect(records[1]!.fields).toEqual({
      invoice_number: 'SG-0612',
      invoice_date: '12/06/2024',
      incoterm: 'FOB Ho Chi Minh City',
      currency: 'EUR',
      invoice_total: '3 712,50',
      locale: 'fr-FR',
      exporter: { id: 'VN0301234567', name: 'Saigon Garment Joint Stock Co.', country: 'VN' },
      importer: { name: 'Boutique Marie-Claire', country: 'FR' },
      lines: [
        {
          line_no: '1',
          description: 'Pantalon femme, coton',
          quantity: '250',
          unit: 'C62',
          unit_price: '14,85',
          line_total: '3 712,50',
          hs_code: '610462',
          origin_country: 'VN',
        },
      ],
      packing_list: {
        packages: '5',
        gross_weight_kg: '96,4',
        net_weight_kg: '88,75',
        lines: [{ line_no: '1', packages: '5' }],
      },
      ocr_confidence: { invoice_total: '0,97', 'lines[0].quantity': '0,92' },
    });
    expect(validRecord(records[0]!.fields)).toMatchObject({
      invoice_date: '2024-02-05',
      invoice_total: '12430.00',
      lines: [{ line_no: 1 }, { line_no: 2, hs_code: '61091000', origin_country: 'PT' }],
      packing_list: { packages: 14, lines: [{ packages: 8 }, { packages: 6 }] },
    });
    const outcome = await dispose(records);
    expect(outcome.dispositions.map((d) => d.label ?? d.reason)).toEqual([
      'section XI chapter 62',
      'section XI chapter 61',
      'weight_inconsistent',
      'invalid_country',
    ]);
  });
});

describe('malformed input', () => {
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const failure = async (file: string, input: InputOptions = {}): Promise<InputError> => {
    try {
      await readAll(file, input);
    } catch (err) {
      if (err instanceof InputError) return err;
      throw err;
    }
    throw new Error(`${file} read without an error`);
  };

  it('json: a truncated array is an error naming the file and line', async () => {
    const file = await write('cut.json', '[\n{"invoice_number": "A"},\n{"invoice_number": ');
    const err = await failure(file);
    expect(err.message).toContain('cut.json');
    expect(err.location.line).toBe(3);
  });

  it('json: an item that is not an object is a parse_error record', async () => {
    const records = await readAll(await write('items.json', '[\n{"invoice_number": "A"},\n42\n]\n'));
    expect(records[1]).toMatchObject({ location: { line: 3 }, parseIssues: [{ code: 'not_an_object' }] });
  });

  it('ndjson: a bad line is a parse_error record; the lines after it go on', async () => {
    const records = await readAll(
      await write('bad.ndjson', '{"invoice_number":"A"}\n{"invoice_number":\n{"invoice_number":"C"}\n'),
    );
    expect(records.map((r) => [r.location.line, r.parseIssues?.[0]?.code])).toEqual([
      [1, undefined],
      [2, 'invalid_json'],
      [3, undefined],
    ]);
  });

  it('xml: malformed XML is an error with its line; a CreditNote or a wrong namespace is a parse_error', async () => {
    const err = await failure(await write('bad.xml', '<Invoices>\n<Invoice>\n<ID>1</Invoice>\n</Invoices>\n'));
    expect(err.message).toContain('bad.xml');
    expect(err.location.line).toBe(3);
    const ns = 'xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"';
    const records = await readAll(
      await write(
        'odd.xml',
        `<Batch>\n<CreditNote ${ns} xmlns:cbc="${CBC}"><cbc:ID>1</cbc:ID></CreditNote>\n<Invoice xmlns="urn:x"/>\n</Batch>\n`,
      ),
    );
    expect(records.map((r) => r.parseIssues?.map((i) => i.code))).toEqual([['not_an_invoice'], ['wrong_namespace']]);
  });

  it('csv: an unclosed quote and an invoice whose rows are apart are errors with their line', async () => {
    const header = 'invoice_number,exporter_id,line_no,description\n';
    let err = await failure(await write('quote.csv', `${header}A,X,1,ok\nB,X,1,"open\n`));
    expect(err.location.line).toBe(3);
    err = await failure(await write('apart.csv', `${header}A,X,1,a\nB,X,1,b\nA,X,2,c\n`));
    expect(err.message).toContain('rows of invoice A of exporter X are not contiguous');
    expect(err.location.line).toBe(4);
    err = await failure(await write('nokey.csv', 'number,exporter_id\nA,X\n'));
    expect(err.message).toContain('no invoice_number column');
  });

  it('csv: an invoice repeated later starts over at line 1 and is a document of its own', async () => {
    const header = 'invoice_number,exporter_id,line_no,description\n';
    const records = await readAll(await write('repeat.csv', `${header}A,X,1,a\nA,X,2,b\nB,X,1,c\nA,x,1,a\nA,X,1,a\n`));
    expect(records.map((r) => r.location.position)).toEqual(['lines 2-3', 'line 4', 'line 5', 'line 6']);
  });

  it('csv: rows of one invoice that disagree on its columns are a parse_error', async () => {
    const header = 'invoice_number,exporter_id,currency,line_no\n';
    const records = await readAll(await write('disagree.csv', `${header}A,X,EUR,1\nA,X,USD,2\n`));
    expect(records[0]!.parseIssues).toEqual([
      expect.objectContaining({ path: 'currency', code: 'inconsistent_invoice_columns', value: 'USD' }),
    ]);
  });

  it('csv: a semicolon file with the delimiter configured', async () => {
    const file = await write('semi.csv', 'invoice_number;exporter_id;line_no;quantity;locale\nA;X;1;1.234,5;de-DE\n');
    const records = await readAll(file, { delimiter: ';' });
    expect(records[0]!.fields).toMatchObject({ locale: 'de-DE', lines: [{ quantity: '1.234,5' }] });
  });
});

describe('customs generator', () => {
  it('uses HS 2022 subheadings with their sections, and unknown codes that HS 2022 does not have', () => {
    for (const [code, section] of GENERATOR_HS_CODES) expect(nomenclature.get(code)?.section, code).toBe(section);
    for (const code of UNKNOWN_HS_CODES) expect(nomenclature.has(code.slice(0, 6)), code).toBe(false);
  });

  it('is deterministic for a seed', async () => {
    const a = join(dir, 'a.csv');
    const b = join(dir, 'b.csv');
    const opts = { records: 200, seed: 5, defects: DEFAULT_DEFECTS, format: 'csv' };
    expect(await customsProfile.generator!.generate(a, opts)).toEqual(
      await customsProfile.generator!.generate(b, opts),
    );
    expect(await readFile(a, 'utf8')).toBe(await readFile(b, 'utf8'));
  });

  const rates = Object.fromEntries(DEFECTS.map((d) => [d, d === 'duplicate' ? 0.05 : 0.02]));
  it.each(['json', 'ndjson', 'xml', 'csv'])(
    'the %s oracle is what reading, validating and classifying the file gives',
    async (format) => {
      const out = join(dir, `gen-${format}.${format}`);
      const expected: ExpectedOutcome = await customsProfile.generator!.generate(out, {
        records: 1500,
        seed: 11,
        defects: rates,
        format,
      });
      expect(expected).toMatchObject({ profile: 'customs', records: 1500, format, seed: 11 });
      for (const d of DEFECTS) if (d !== 'duplicate') expect(expected.byReason[d], d).toBeGreaterThan(0);
      expect(expected.duplicates).toBeGreaterThan(0);
      const records = await readAll(out, {}, 97);
      expect(records).toHaveLength(1500);
      const got = await dispose(records);
      expect({
        committed: got.committed,
        duplicates: got.duplicates,
        quarantined: got.quarantined,
        byReason: got.byReason,
      }).toEqual({
        committed: expected.committed,
        duplicates: expected.duplicates,
        quarantined: expected.quarantined,
        byReason: expected.byReason,
      });
    },
  );

  it('writes the same invoices in every format: the same keys, so another format resubmitted is duplicates', async () => {
    const keys: Record<string, (string | undefined)[]> = {};
    for (const format of ['json', 'xml', 'csv']) {
      const out = join(dir, `same-${format}.${format}`);
      await customsProfile.generator!.generate(out, { records: 300, seed: 3, defects: DEFAULT_DEFECTS, format });
      keys[format] = (await dispose(await readAll(out))).dispositions.map((d) => `${d.status}:${d.reason ?? d.key}`);
    }
    expect(keys.xml).toEqual(keys.json);
    expect(keys.csv).toEqual(keys.json);
  });

  it('writes the HS subheadings its invoices need next to the output', async () => {
    const out = join(dir, 'ref.json');
    const refs = await customsProfile.generator!.references!(out, { records: 1, seed: 1, defects: {} });
    expect(refs).toEqual({ hs: `${out}.hs.csv` });
    const entries = [];
    for await (const e of hsReference.read(refs.hs!, 'ref.json.hs.csv')) entries.push(e);
    expect(entries.map((e) => e.key).sort()).toEqual(GENERATOR_HS_CODES.map(([code]) => code).sort());
  });
});

describe('customs profile registration', () => {
  it('is registered, with its reference kind and reason codes', () => {
    expect(getProfile('customs')).toBe(customsProfile);
    expect(customsProfile.formats).toEqual(['json', 'ndjson', 'xml', 'csv']);
    expect(Object.keys(customsProfile.references!)).toEqual(['hs']);
    expect(CUSTOMS_REASON_CODES).toContain('low_confidence');
  });
});
