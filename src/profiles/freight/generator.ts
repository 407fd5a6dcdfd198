/**
 * Synthetic carrier invoices with planted defects, in any of freight's formats (EDI X12 210, UBL 2.1 XML, CSV), the
 * rate contracts they are audited against, and the outcome processing them must give (the oracle). Deterministic for
 * a seed, and the same seed and defects give the same invoices in every format (but for the X12-only parse_error),
 * so a file resubmitted in another format is a batch of duplicates. Streams, so a million invoices take seconds and
 * little memory.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import type { ExpectedOutcome, GenerateOptions } from '../types.ts';
import { formatCents, multiplyToCents, parseDecimal } from './money.ts';
import type { RatePeriod } from './reference.ts';
import { RATE_COLUMNS } from './reference.ts';
import type { CSV_OPTIONAL, CSV_REQUIRED } from './readers.ts';
import { BatchedWriter, countHeld, csvCell, cumulativeRates, mulberry32, newOutcome } from '../generator-kit.ts';

/** Every kind of defect the generator can plant; each is named after the reason code its invoice is held with. */
export const DEFECTS = [
  'total_mismatch',
  'rate_variance',
  'no_contract_rate',
  'invalid_scac',
  'invalid_date',
  /** X12 only: one transaction set whose SE01 segment count is wrong. Other formats write a clean invoice instead. */
  'parse_error',
  /** Repeats an earlier committed invoice, content and all. */
  'duplicate',
] as const;
export type FreightDefect = (typeof DEFECTS)[number];

export const GENERATOR_FORMATS = ['x12', 'xml', 'csv'] as const;
export type GeneratorFormat = (typeof GENERATOR_FORMATS)[number];

export const DEFAULT_DEFECTS: Partial<Record<FreightDefect, number>> = {
  total_mismatch: 0.01,
  rate_variance: 0.02,
  no_contract_rate: 0.01,
  invalid_scac: 0.005,
  invalid_date: 0.005,
  parse_error: 0.002,
  duplicate: 0.01,
};

// ---------------------------------------------------------------------------------------------------------------
// The world: carriers, charge codes, places and the rate contract table (the same for every seed)

interface Carrier {
  scac: string;
  name: string;
  currency: string;
}

export const CARRIERS: readonly Carrier[] = [
  { scac: 'ODFL', name: 'Old Dominion Freight Line', currency: 'USD' },
  { scac: 'SAIA', name: 'Saia LTL Freight', currency: 'USD' },
  { scac: 'ABFS', name: 'ABF Freight System', currency: 'USD' },
  { scac: 'EXLA', name: 'Estes Express Lines', currency: 'USD' },
  { scac: 'RLCA', name: 'R+L Carriers', currency: 'USD' },
  { scac: 'FXFE', name: 'FedEx Freight', currency: 'USD' },
  { scac: 'AVRT', name: 'Averitt Express', currency: 'USD' },
  { scac: 'DAYR', name: 'Day & Ross', currency: 'CAD' },
];

type Unit = 'mile' | 'hour' | 'each';

interface ChargeType {
  code: string;
  description: string;
  basis: RatePeriod['basis'];
  unit: Unit;
  /** Rate range in 2024, in thousandths (per_unit) or cents (flat). */
  low: number;
  high: number;
}

const LINEHAUL: ChargeType = {
  code: '400',
  description: 'Linehaul',
  basis: 'per_unit',
  unit: 'mile',
  low: 1850,
  high: 3100,
};
const FUEL: ChargeType = {
  code: 'FUE',
  description: 'Fuel surcharge',
  basis: 'per_unit',
  unit: 'mile',
  low: 420,
  high: 680,
};
const ACCESSORIALS: readonly ChargeType[] = [
  { code: 'DET', description: 'Detention, at consignee', basis: 'per_unit', unit: 'hour', low: 65000, high: 95000 },
  { code: 'LFT', description: 'Liftgate service', basis: 'flat', unit: 'each', low: 7500, high: 14000 },
  { code: 'RES', description: 'Residential delivery', basis: 'flat', unit: 'each', low: 9000, high: 16000 },
  { code: 'HAZ', description: 'Hazardous materials', basis: 'flat', unit: 'each', low: 3500, high: 6000 },
  { code: 'INS', description: 'Inside delivery', basis: 'flat', unit: 'each', low: 8000, high: 12500 },
];
/** Charge codes no carrier has a contract for: billing one of them is a `no_contract_rate`. */
const UNCONTRACTED: readonly ChargeType[] = [
  { code: 'XLB', description: 'Extra labor', basis: 'flat', unit: 'each', low: 6000, high: 18000 },
  { code: 'SOR', description: 'Sort and segregate', basis: 'flat', unit: 'each', low: 4000, high: 9000 },
];
/** Inside delivery is contracted with every other carrier only, so billing it elsewhere is uncontracted too. */
const hasContract = (carrierIndex: number, charge: ChargeType): boolean =>
  charge.code !== 'INS' || carrierIndex % 2 === 0;

interface Place {
  code: string;
  city: string;
  state: string;
}

const PLACES: readonly Place[] = [
  { code: 'USCHI', city: 'CHICAGO', state: 'IL' },
  { code: 'USDAL', city: 'DALLAS', state: 'TX' },
  { code: 'USATL', city: 'ATLANTA', state: 'GA' },
  { code: 'USLAX', city: 'LOS ANGELES', state: 'CA' },
  { code: 'USNYC', city: 'NEW YORK', state: 'NY' },
  { code: 'USDEN', city: 'DENVER', state: 'CO' },
  { code: 'USSEA', city: 'SEATTLE', state: 'WA' },
  { code: 'USMEM', city: 'MEMPHIS', state: 'TN' },
  { code: 'USKCK', city: 'KANSAS CITY', state: 'KS' },
  { code: 'USPHL', city: 'PHILADELPHIA', state: 'PA' },
  { code: 'CATOR', city: 'TORONTO', state: 'ON' },
  { code: 'CAMTR', city: 'MONTREAL', state: 'QC' },
];

/** Contract periods: calendar 2024, then an open-ended 2025 rate 4 % higher. */
const PERIOD_2024 = { valid_from: '2024-01-01', valid_to: '2024-12-31' };
const PERIOD_2025 = { valid_from: '2025-01-01' };

interface ContractRow extends RatePeriod {
  scac: string;
  charge_code: string;
}

/** The rate contract table every generated invoice is audited against; fixed (its own seed), whatever the file's seed. */
export function rateTable(): ContractRow[] {
  const rnd = mulberry32(0x5ca1ab1e);
  const rows: ContractRow[] = [];
  CARRIERS.forEach((carrier, ci) => {
    for (const charge of [LINEHAUL, FUEL, ...ACCESSORIALS]) {
      if (!hasContract(ci, charge)) continue;
      const base = charge.low + Math.floor(rnd() * (charge.high - charge.low + 1));
      // per_unit rates in thousandths (2.345 per mile), flat amounts in cents.
      const scale = charge.basis === 'flat' ? 2 : 3;
      const r2024 = formatUnits(base, scale);
      const r2025 = formatUnits(Math.round(base * 1.04), scale);
      const common = { scac: carrier.scac, charge_code: charge.code, basis: charge.basis, currency: carrier.currency };
      rows.push({ ...common, rate: r2024, ...PERIOD_2024, description: charge.description });
      rows.push({ ...common, rate: r2025, ...PERIOD_2025, description: charge.description });
    }
  });
  return rows;
}

function formatUnits(units: number, scale: number): string {
  const s = String(units).padStart(scale + 1, '0');
  return `${s.slice(0, -scale)}.${s.slice(-scale)}`;
}

/** Writes the rate contract CSV (reference kind `freight-rates`). */
export async function writeRateTable(path: string): Promise<void> {
  const columns = [...RATE_COLUMNS, 'description'] as const;
  const lines = rateTable().map((row) =>
    columns.map((c) => csvCell(String((row as unknown as Record<string, unknown>)[c] ?? ''))).join(','),
  );
  await writeFile(path, `${columns.join(',')}\n${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Invoices

interface GenLeg {
  leg_no: number;
  origin: Place;
  destination: Place;
}

interface GenCharge {
  code: string;
  description: string;
  unit: Unit;
  quantity: string;
  rate: string;
  /** Cents. */
  amount: bigint;
}

/** One invoice as the generator builds it, before it is written in a format. */
export interface GenInvoice {
  scac: string;
  carrierName: string;
  invoice_number: string;
  invoice_date: string;
  currency: string;
  shipment_id: string;
  legs: GenLeg[];
  charges: GenCharge[];
  /** Cents. */
  total: bigint;
  weight: number;
}

const BAD_SCACS = (scac: string): string[] => [
  scac.toLowerCase(),
  `${scac}X`,
  `${scac.slice(0, 2)}1`,
  scac.slice(0, 1),
];
const BAD_DATES: Record<GeneratorFormat, readonly string[]> = {
  // X12 dates are CCYYMMDD; map210 rejects what is not one.
  x12: ['20240230', '20241301', '2024061', '20250431'],
  xml: ['2024-02-30', '2024-13-01', '05/14/2024', '2025-4-31'],
  csv: ['2024-02-30', '2024-13-01', '05/14/2024', '2025-6-5'],
};
const DUPLICATE_POOL_SIZE = 1024;

export interface FreightGenerateOptions extends Omit<GenerateOptions, 'defects'> {
  defects?: Partial<Record<string, number>>;
}

/**
 * Writes `records` invoices to `out` in `format` (default x12) and returns the expected outcome. Every invoice is
 * audited clean against `rateTable()` unless a defect is planted in it (at most one per invoice); a few clean charges
 * deviate from their contract within the default tolerance (2 % or 1.00), so the tolerance itself is exercised.
 */
export async function generateFreightInvoices(out: string, opts: FreightGenerateOptions): Promise<ExpectedOutcome> {
  const { records, seed } = opts;
  const format = (opts.format ?? 'x12') as GeneratorFormat;
  if (!GENERATOR_FORMATS.includes(format))
    throw new RangeError(`freight generates ${GENERATOR_FORMATS.join(', ')}, not ${format}`);
  if (!Number.isSafeInteger(records) || records < 0) throw new RangeError(`records must be a count, got ${records}`);
  const thresholds = cumulativeRates(DEFECTS, opts.defects ?? {}, 'freight');

  const contracts = contractIndex();
  const rnd = mulberry32(seed);
  // The duplicate pool draws from a stream of its own, so that the invoices themselves are the same in every format
  // even though a parse_error (X12 only) changes which invoices are committed and pooled.
  const poolRnd = mulberry32(seed ^ 0x9e3779b9);
  // Invoice numbers carry the seed, so files of different seeds never share an idempotency key (the ledger is
  // global), while the same seed gives the same invoices in every format.
  const seedTag = (seed < 0 ? `N${(-seed).toString(36)}` : seed.toString(36)).toUpperCase();
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  const date = (): string => {
    const year = int(2024, 2025);
    const month = int(1, 12);
    const day = int(1, month === 2 ? 28 : [4, 6, 9, 11].includes(month) ? 30 : 31);
    return `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  };
  const contractCharge = (ci: number, invoiceDate: string, type: ChargeType, quantity: string): GenCharge => {
    const period = contracts
      .get(`${CARRIERS[ci]!.scac}/${type.code}`)!
      .find((p) => p.valid_from <= invoiceDate && (p.valid_to ?? '9999') >= invoiceDate)!;
    const amount =
      period.basis === 'flat'
        ? multiplyToCents({ units: 1n, scale: 0 }, parseDecimal(period.rate)!)
        : multiplyToCents(parseDecimal(quantity)!, parseDecimal(period.rate)!);
    return { code: type.code, description: type.description, unit: type.unit, quantity, rate: period.rate, amount };
  };

  const cleanInvoice = (i: number): GenInvoice => {
    const ci = int(0, CARRIERS.length - 1);
    const carrier = CARRIERS[ci]!;
    const invoiceDate = date();
    const legCount = rnd() < 0.6 ? 1 : rnd() < 0.75 ? 2 : 3;
    const legs: GenLeg[] = [];
    let from = pick(PLACES);
    for (let k = 1; k <= legCount; k++) {
      let to = pick(PLACES);
      while (to === from) to = pick(PLACES);
      legs.push({ leg_no: k, origin: from, destination: to });
      from = to;
    }
    const charges: GenCharge[] = [];
    for (const _leg of legs) {
      const miles = String(int(40, 1400));
      charges.push(contractCharge(ci, invoiceDate, LINEHAUL, miles));
      charges.push(contractCharge(ci, invoiceDate, FUEL, miles));
    }
    const accessorials = ACCESSORIALS.filter((a) => hasContract(ci, a) && rnd() < 0.2);
    for (const a of accessorials) {
      const quantity = a.unit === 'hour' ? pick(['1', '1.5', '2', '2.5', '3', '4.25']) : '1';
      charges.push(contractCharge(ci, invoiceDate, a, quantity));
    }
    // A carrier's rounding or a small negotiated difference: within the tolerance, so still audited clean.
    if (rnd() < 0.1) {
      const c = pick(charges);
      const allowed = maxBig(100n, (c.amount * 2n) / 100n);
      const deviation = BigInt(int(1, Number(allowed / 2n)));
      c.amount += rnd() < 0.5 || c.amount <= deviation ? deviation : -deviation;
      if (c.unit === 'each') c.rate = formatCents(c.amount);
    }
    const n = String(i + 1).padStart(7, '0');
    return {
      scac: carrier.scac,
      carrierName: carrier.name,
      invoice_number: `F${seedTag}-${n}`,
      invoice_date: invoiceDate,
      currency: carrier.currency,
      shipment_id: `SH${seedTag}${n}`,
      legs,
      charges,
      total: charges.reduce((sum, c) => sum + c.amount, 0n),
      weight: int(150, 20000),
    };
  };

  const outcome: ExpectedOutcome = newOutcome('freight', records, seed, format);
  let committedCents = 0n;
  // Committed invoices a planted duplicate may repeat: a reservoir sample over the whole file, so duplicates reach
  // back across many chunks while memory stays bounded.
  const pool: GenInvoice[] = [];
  let committedSeen = 0;

  const file = createWriteStream(out);
  const writer = new BatchedWriter(file);
  const emit = formatWriter(format, writer);
  try {
    await emit.start();
    for (let i = 0; i < records; i++) {
      const u = rnd();
      const drawn = DEFECTS.find((_, d) => u < thresholds[d]!);
      // A broken X12 set has no equivalent in XML or CSV (a broken document there breaks the file).
      const defect = drawn === 'parse_error' && format !== 'x12' ? undefined : drawn;
      const duplicateOf =
        defect === 'duplicate' && pool.length > 0 ? pool[Math.floor(poolRnd() * pool.length)] : undefined;
      const invoice = duplicateOf ?? cleanInvoice(i);
      let broken = false;
      let badDate: string | undefined;
      switch (defect) {
        case 'total_mismatch': {
          const delta = BigInt(int(200, 25000));
          invoice.total += rnd() < 0.5 || invoice.total <= delta ? delta : -delta;
          break;
        }
        case 'rate_variance': {
          const c = pick(invoice.charges);
          // Far beyond the default tolerance (2 % or 1.00): at least 5 % and at least 5.00.
          const deviation = maxBig(500n, (c.amount * BigInt(int(5, 30))) / 100n);
          c.amount += rnd() < 0.5 || c.amount <= deviation ? deviation : -deviation;
          if (c.unit === 'each') c.rate = formatCents(c.amount);
          invoice.total = invoice.charges.reduce((sum, x) => sum + x.amount, 0n);
          break;
        }
        case 'no_contract_rate': {
          const ci = CARRIERS.findIndex((c) => c.scac === invoice.scac);
          const type = pick([...UNCONTRACTED, ...ACCESSORIALS.filter((a) => !hasContract(ci, a))]);
          const amount = BigInt(int(type.low, type.high));
          invoice.charges.push({
            code: type.code,
            description: type.description,
            unit: 'each',
            quantity: '1',
            rate: formatCents(amount),
            amount,
          });
          invoice.total += amount;
          break;
        }
        case 'invalid_scac':
          invoice.scac = pick(BAD_SCACS(invoice.scac));
          break;
        case 'invalid_date':
          badDate = pick(BAD_DATES[format]);
          break;
        case 'parse_error':
          broken = true;
          break;
        case 'duplicate':
        case undefined:
          break;
      }
      await emit.invoice(invoice, { broken, badDate });

      if (duplicateOf) outcome.duplicates++;
      else if (defect !== undefined && defect !== 'duplicate') countHeld(outcome, defect);
      else {
        outcome.committed++;
        committedCents += invoice.total;
        committedSeen++;
        // Reservoir sampling (algorithm R): every committed invoice so far is equally likely to be in the pool.
        if (pool.length < DUPLICATE_POOL_SIZE) pool.push(invoice);
        else {
          const slot = Math.floor(poolRnd() * committedSeen);
          if (slot < DUPLICATE_POOL_SIZE) pool[slot] = invoice;
        }
      }
    }
    await emit.end();
    await writer.flush();
    file.end();
    await finished(file);
  } catch (err) {
    file.destroy();
    throw err;
  } finally {
    writer.release();
  }
  outcome.committedSum = { field: 'total', value: formatCents(committedCents) };
  return outcome;
}

/** The rate contract file `generateFreightInvoices` audits against, written next to `out`: kind -> path. */
export async function writeFreightReferences(out: string): Promise<Record<string, string>> {
  const path = `${out}.freight-rates.csv`;
  await writeRateTable(path);
  return { 'freight-rates': path };
}

function contractIndex(): Map<string, ContractRow[]> {
  const index = new Map<string, ContractRow[]>();
  for (const row of rateTable()) {
    const key = `${row.scac}/${row.charge_code}`;
    index.set(key, [...(index.get(key) ?? []), row]);
  }
  return index;
}

const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);

// ---------------------------------------------------------------------------------------------------------------
// Writers, one per format

interface FormatWriter {
  start(): Promise<void>;
  invoice(invoice: GenInvoice, variant: { broken: boolean; badDate: string | undefined }): Promise<void>;
  end(): Promise<void>;
}

function formatWriter(format: GeneratorFormat, writer: BatchedWriter): FormatWriter {
  switch (format) {
    case 'x12':
      return x12Writer(writer);
    case 'xml':
      return ublWriter(writer);
    case 'csv':
      return csvWriter(writer);
  }
}

const X12_UNITS: Record<Unit, { billed: string; rate: string }> = {
  mile: { billed: 'DM', rate: 'PM' },
  hour: { billed: 'HR', rate: 'PH' },
  each: { billed: 'PC', rate: 'FR' },
};

/** An N2 element: cents as digits, sign and all. */
const n2 = (cents: bigint): string => cents.toString();

/** EDI X12 004010 210s in one interchange and one functional group (GS01 `IM`), a segment per line. */
function x12Writer(writer: BatchedWriter): FormatWriter {
  let sets = 0;
  return {
    async start() {
      const isa = [
        'ISA',
        '00',
        ' '.repeat(10),
        '00',
        ' '.repeat(10),
        'ZZ',
        'SLUICEGEN'.padEnd(15),
        'ZZ',
        'FREIGHTAUDIT'.padEnd(15),
        '250101',
        '1200',
        'U',
        '00401',
        '000000001',
        '0',
        'P',
        '>',
      ].join('*');
      await writer.write(`${isa}~\nGS*IM*SLUICEGEN*FREIGHTAUDIT*20250101*1200*1*X*004010~\n`);
    },
    async invoice(inv, { broken, badDate }) {
      sets++;
      const control = String(sets).padStart(4, '0');
      const date = badDate ?? inv.invoice_date.replaceAll('-', '');
      const segments = [
        `ST*210*${control}`,
        `B3**${inv.invoice_number}*${inv.shipment_id}*PP**${date}*${n2(inv.total)}****${inv.scac}`,
        `C3*${inv.currency}`,
        `N1*BT*SLUICE FREIGHT AUDIT`,
      ];
      const stops = [inv.legs[0]!.origin, ...inv.legs.map((l) => l.destination)];
      stops.forEach((place, k) => {
        segments.push(`S5*${k + 1}*${k === 0 ? 'LD' : 'UL'}`);
        segments.push(`N1*${k === 0 ? 'SF' : 'ST'}*${place.city} TERMINAL*ZZ*${place.code}`);
        segments.push(`N4*${place.city}*${place.state}`);
      });
      inv.charges.forEach((c, j) => {
        const units = X12_UNITS[c.unit];
        segments.push(`LX*${j + 1}`);
        segments.push(`L0*${j + 1}*${c.quantity}*${units.billed}`);
        segments.push(`L1*${j + 1}*${c.rate}*${units.rate}*${n2(c.amount)}****${c.code}****${c.description}`);
      });
      segments.push(`L3*${inv.weight}*G***${n2(inv.total)}`);
      // SE01 counts ST..SE; a broken set claims one segment more than it has.
      segments.push(`SE*${segments.length + 1 + (broken ? 1 : 0)}*${control}`);
      await writer.write(`${segments.join('~\n')}~\n`);
    },
    async end() {
      await writer.write(`GE*${sets}*1~\nIEA*1*000000001~\n`);
    },
  };
}

const UBL_UNITS: Record<Unit, string> = { mile: 'SMI', hour: 'HUR', each: 'EA' };

const xmlText = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** UBL 2.1 Invoices, each declaring its own namespaces, under a `FreightInvoices` wrapper. */
function ublWriter(writer: BatchedWriter): FormatWriter {
  return {
    async start() {
      await writer.write('<?xml version="1.0" encoding="UTF-8"?>\n<FreightInvoices>\n');
    },
    async invoice(inv, { badDate }) {
      const cur = inv.currency;
      const amount = (name: string, cents: bigint): string =>
        `<cbc:${name} currencyID="${cur}">${formatCents(cents)}</cbc:${name}>`;
      const stages = inv.legs
        .map(
          (l) =>
            `<cac:ShipmentStage><cbc:ID>${l.leg_no}</cbc:ID>` +
            `<cac:LoadingPortLocation><cbc:ID>${l.origin.code}</cbc:ID></cac:LoadingPortLocation>` +
            `<cac:UnloadingPortLocation><cbc:ID>${l.destination.code}</cbc:ID></cac:UnloadingPortLocation></cac:ShipmentStage>`,
        )
        .join('\n      ');
      const lines = inv.charges
        .map(
          (c, j) =>
            `  <cac:InvoiceLine>\n    <cbc:ID>${j + 1}</cbc:ID>\n` +
            `    <cbc:InvoicedQuantity unitCode="${UBL_UNITS[c.unit]}">${c.quantity}</cbc:InvoicedQuantity>\n` +
            `    ${amount('LineExtensionAmount', c.amount)}\n` +
            `    <cac:Item><cbc:Name>${xmlText(c.description)}</cbc:Name>` +
            `<cac:SellersItemIdentification><cbc:ID>${c.code}</cbc:ID></cac:SellersItemIdentification></cac:Item>\n` +
            `    <cac:Price><cbc:PriceAmount currencyID="${cur}">${c.rate}</cbc:PriceAmount></cac:Price>\n` +
            `  </cac:InvoiceLine>\n`,
        )
        .join('');
      const lineSum = inv.charges.reduce((sum, c) => sum + c.amount, 0n);
      await writer.write(
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"' +
          ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"' +
          ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">\n' +
          '  <cbc:UBLVersionID>2.1</cbc:UBLVersionID>\n' +
          `  <cbc:ID>${inv.invoice_number}</cbc:ID>\n` +
          `  <cbc:IssueDate>${badDate ?? inv.invoice_date}</cbc:IssueDate>\n` +
          '  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>\n' +
          `  <cbc:DocumentCurrencyCode>${cur}</cbc:DocumentCurrencyCode>\n` +
          '  <cac:AccountingSupplierParty><cac:Party>' +
          `<cac:PartyIdentification><cbc:ID schemeID="SCAC">${xmlText(inv.scac)}</cbc:ID></cac:PartyIdentification>` +
          `<cac:PartyName><cbc:Name>${xmlText(inv.carrierName)}</cbc:Name></cac:PartyName>` +
          '</cac:Party></cac:AccountingSupplierParty>\n' +
          '  <cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>Sluice Freight Audit</cbc:Name>' +
          '</cac:PartyName></cac:Party></cac:AccountingCustomerParty>\n' +
          `  <cac:Delivery><cac:Shipment><cbc:ID>${inv.shipment_id}</cbc:ID>\n      ${stages}\n  </cac:Shipment></cac:Delivery>\n` +
          `  <cac:TaxTotal>${amount('TaxAmount', 0n)}</cac:TaxTotal>\n` +
          '  <cac:LegalMonetaryTotal>' +
          amount('LineExtensionAmount', lineSum) +
          amount('TaxExclusiveAmount', inv.total) +
          amount('TaxInclusiveAmount', inv.total) +
          amount('PayableAmount', inv.total) +
          '</cac:LegalMonetaryTotal>\n' +
          lines +
          '</Invoice>\n',
      );
    },
    async end() {
      await writer.write('</FreightInvoices>\n');
    },
  };
}

const CSV_COLUMNS = [
  'scac',
  'invoice_number',
  'invoice_date',
  'currency',
  'shipment_id',
  'origin',
  'destination',
  'leg_no',
  'charge_code',
  'description',
  'quantity',
  'rate',
  'amount',
  'invoice_total',
] as const satisfies ReadonlyArray<(typeof CSV_REQUIRED)[number] | (typeof CSV_OPTIONAL)[number]>;

/** One row per charge line; linehaul and fuel rows carry their leg, accessorials the last leg. */
function csvWriter(writer: BatchedWriter): FormatWriter {
  return {
    async start() {
      await writer.write(`${CSV_COLUMNS.join(',')}\n`);
    },
    async invoice(inv, { badDate }) {
      const rows = inv.charges.map((c, j) => {
        const leg = inv.legs[Math.min(Math.floor(j / 2), inv.legs.length - 1)]!;
        const row: Record<(typeof CSV_COLUMNS)[number], string> = {
          scac: inv.scac,
          invoice_number: inv.invoice_number,
          invoice_date: badDate ?? inv.invoice_date,
          currency: inv.currency,
          shipment_id: inv.shipment_id,
          origin: leg.origin.code,
          destination: leg.destination.code,
          leg_no: String(leg.leg_no),
          charge_code: c.code,
          description: c.description,
          quantity: c.quantity,
          rate: c.rate,
          amount: formatCents(c.amount),
          invoice_total: formatCents(inv.total),
        };
        return CSV_COLUMNS.map((col) => csvCell(row[col])).join(',');
      });
      await writer.write(`${rows.join('\n')}\n`);
    },
    async end() {},
  };
}
