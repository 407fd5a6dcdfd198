/**
 * Synthetic vendor rebate claim files (CSV or XLSX) with planted defects, the promotion master they are classified
 * against, and the outcome processing must give (the oracle). Deterministic for a seed, and the same seed gives the
 * same claim lines in either format, so a CSV and its XLSX twin hold the same idempotency keys. Streams: a
 * 500,000-line file takes seconds and bounded memory.
 *
 * The promotion master is fixed (the same for every seed): `promotions` is one table for the whole installation,
 * so files generated with different seeds can be processed against one import. Claim lines carry the seed in
 * their `line_ref`, so files of different seeds never share a key.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { writeXlsx } from '../../formats/xlsx-write.ts';
import type { XlsxCellValue, XlsxRowInput } from '../../formats/xlsx-write.ts';
import type { ExpectedOutcome, GenerateOptions } from '../types.ts';
import { REBATE_COLUMNS, daysInMonth } from './schema.ts';
import { PROMOTION_COLUMNS } from './reference.ts';
import { countHeld, csvCell, cumulativeRates, mulberry32, newOutcome, WRITE_BATCH_CHARS } from '../generator-kit.ts';

export const REBATE_DEFECTS = [
  'unknown_promotion',
  'outside_promotion_window',
  'ineligible_sku',
  'over_claim',
  'invalid_quantity',
  'invalid_amount',
  'duplicate',
] as const;
export type RebateDefect = (typeof REBATE_DEFECTS)[number];
export const REBATE_FORMATS = ['csv', 'xlsx'] as const;
export type RebateFormat = (typeof REBATE_FORMATS)[number];

/** The oracle, plus the sum of the accruals of the lines committed without review (default profile options). */
export interface RebateExpectedOutcome extends ExpectedOutcome {
  committedAccrual: string;
}

export interface GenerateRebateOptions {
  records: number;
  /** Default 1. */
  seed?: number;
  /** Fractions (0..1) of lines that get each defect; a line gets at most one. */
  defects?: Partial<Record<RebateDefect, number>>;
  /** Default csv. */
  format?: RebateFormat;
}

interface MasterPromotion {
  id: string;
  vendor: string;
  start: string;
  end: string;
  /** Undefined: every SKU (`*`). */
  skus?: string[];
  tiers: ReadonlyArray<readonly [number, string]>;
  /** Cap per unit in cents. */
  maxCents?: number;
}

/** Each vendor's catalogue: the SKUs its lines name (some in no promotion's list: those make ineligible lines). */
const CATALOGUE: Readonly<Record<string, string[]>> = {
  'V-1001': range('SKU-1000', 1, 8),
  'V-1002': range('SKU-2000', 1, 7),
  'V-1003': range('SKU-3000', 1, 6),
  'V-1004': range('SKU-4000', 1, 6),
  'V-1005': range('SKU-5000', 1, 5),
  'V-1006': range('SKU-6000', 1, 5),
};

function range(prefix: string, from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
}

/**
 * The promotion master every generated file is classified against (and `samples/rebate/promotions.csv`). Some
 * windows start or end mid-month, some promotions take every SKU, some have no per-unit cap.
 */
export const PROMOTION_MASTER: readonly MasterPromotion[] = [
  {
    id: 'PR-24-101',
    vendor: 'V-1001',
    start: '2024-01-01',
    end: '2024-12-31',
    skus: range('SKU-1000', 1, 4),
    tiers: [
      [0, '0.02'],
      [1000, '0.035'],
      [5000, '0.05'],
    ],
    maxCents: 1250,
  },
  {
    id: 'PR-25-101',
    vendor: 'V-1001',
    start: '2025-01-01',
    end: '2025-06-30',
    skus: range('SKU-1000', 1, 6),
    tiers: [
      [0, '0.025'],
      [2000, '0.04'],
    ],
    maxCents: 1400,
  },
  {
    id: 'PR-25-102',
    vendor: 'V-1001',
    start: '2025-07-01',
    end: '2025-12-31',
    tiers: [
      [0, '0.015'],
      [500, '0.02'],
      [3000, '0.03'],
    ],
  },
  {
    id: 'PR-24-201',
    vendor: 'V-1002',
    start: '2024-03-15',
    end: '2024-09-14',
    skus: range('SKU-2000', 1, 3),
    tiers: [[0, '0.05']],
    maxCents: 3000,
  },
  {
    id: 'PR-25-201',
    vendor: 'V-1002',
    start: '2025-01-01',
    end: '2025-12-31',
    skus: range('SKU-2000', 1, 5),
    tiers: [
      [0, '0.03'],
      [1500, '0.045'],
      [6000, '0.06'],
    ],
    maxCents: 3200,
  },
  {
    id: 'PR-25-301',
    vendor: 'V-1003',
    start: '2025-02-01',
    end: '2025-04-30',
    skus: range('SKU-3000', 1, 2),
    tiers: [[0, '0.1']],
    maxCents: 425,
  },
  {
    id: 'PR-25-302',
    vendor: 'V-1003',
    start: '2025-05-01',
    end: '2026-04-30',
    skus: range('SKU-3000', 1, 4),
    tiers: [
      [0, '0.02'],
      [1000, '0.025'],
      [2500, '0.0325'],
      [10000, '0.04'],
    ],
    maxCents: 500,
  },
  {
    id: 'PR-24-401',
    vendor: 'V-1004',
    start: '2024-06-01',
    end: '2025-05-31',
    tiers: [[0, '0.0125']],
  },
  {
    id: 'PR-25-401',
    vendor: 'V-1004',
    start: '2025-06-01',
    end: '2026-05-31',
    skus: range('SKU-4000', 1, 4),
    tiers: [
      [0, '0.015'],
      [4000, '0.0275'],
    ],
    maxCents: 4875,
  },
  {
    id: 'PR-25-501',
    vendor: 'V-1005',
    start: '2025-01-10',
    end: '2025-03-20',
    skus: range('SKU-5000', 1, 2),
    tiers: [
      [0, '0.07'],
      [800, '0.09'],
    ],
    maxCents: 999,
  },
  {
    id: 'PR-26-501',
    vendor: 'V-1005',
    start: '2026-01-01',
    end: '2026-06-30',
    skus: range('SKU-5000', 1, 3),
    tiers: [
      [0, '0.04'],
      [1000, '0.05'],
    ],
    maxCents: 1100,
  },
  {
    id: 'PR-25-601',
    vendor: 'V-1006',
    start: '2025-01-01',
    end: '2025-12-31',
    skus: range('SKU-6000', 1, 3),
    tiers: [
      [0, '0.03'],
      [250, '0.035'],
      [750, '0.04'],
      [2000, '0.05'],
    ],
    maxCents: 7500,
  },
];

const centsText = (cents: number): string => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/** The promotion master as CSV text (the `promotions` reference file). */
export function promotionMasterCsv(): string {
  const rows = PROMOTION_MASTER.map((p) =>
    [
      p.id,
      p.vendor,
      p.start,
      p.end,
      p.skus?.join(';') ?? '*',
      p.tiers.map(([q, r]) => `${q}:${r}`).join(';'),
      p.maxCents === undefined ? '' : centsText(p.maxCents),
    ].join(','),
  );
  return `${PROMOTION_COLUMNS.join(',')}\n${rows.join('\n')}\n`;
}

/** Where `references` writes the master: next to the claim file, one name for every seed (the content is fixed). */
export const promotionMasterPath = (out: string): string => join(dirname(out), 'rebate-promotions.csv');

export async function writePromotionMaster(out: string): Promise<{ promotions: string }> {
  const file = promotionMasterPath(out);
  await writeFile(file, promotionMasterCsv());
  return { promotions: file };
}

/** One generated line before it is written in a format: text values are written as given. */
interface Line {
  vendor_id: string;
  claim_period: string;
  sku: string;
  /** A number is a valid quantity (a number cell); text is written as is (a bad or padded value). */
  quantity: number | string;
  /** Valid amounts in cents; `amountText` (bad values) wins when set. */
  amountCents: number;
  amountText?: string;
  promotion_id: string;
  claim_date?: string;
  line_ref: string;
  /** How to spell the values (0-99): padded, without a trailing zero, with a double's 17 digits (XLSX). */
  spelling: number;
}

const BAD_QUANTITIES = ['0', '-5', '1.5', '2.25', '1e3', 'ten', '12 units', '+4', '1,200', '99999999999999'];
const BAD_AMOUNTS = ['12.345', '-10.00', '0.00', '1,234.50', '$12.00', 'abc', '12.50 USD', '1e4', '10000000000.00'];
const UNKNOWN_PROMOTIONS = ['PR-23-999', 'PR-25-000', 'PR-26-777', 'PROMO-1', 'pr-25-101'];
const DUPLICATE_POOL_SIZE = 4096;

/** Months of a window as `YYYY-MM`, whole months only (so either window rule accepts them). */
function wholeMonths(p: MasterPromotion): string[] {
  const months: string[] = [];
  let [y, m] = p.start.split('-').map(Number) as [number, number];
  for (;;) {
    const period = `${y}-${String(m).padStart(2, '0')}`;
    const last = `${period}-${String(daysInMonth(y, m)).padStart(2, '0')}`;
    if (`${period}-01` > p.end) break;
    if (`${period}-01` >= p.start && last <= p.end) months.push(period);
    m += 1;
    if (m === 13) [y, m] = [y + 1, 1];
  }
  return months;
}

function shiftMonth(period: string, by: number): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const index = y * 12 + (m - 1) + by;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/** The accrual of a valid line (all_units), computed here without the profile's code, as the oracle should be. */
function oracleAccrualCents(p: MasterPromotion, quantity: number, amountCents: number): number {
  let rate = p.tiers[0]![1];
  for (const [min, r] of p.tiers) if (quantity >= min) rate = r;
  const micro = Math.round(Number(rate) * 1_000_000);
  // amount x rate in millionths of a cent, rounded half up: exact, both factors are far below 2^26.
  return Math.floor((2 * amountCents * micro + 1_000_000) / 2_000_000);
}

/**
 * Yields the lines of a file in order and fills `outcome` as it goes. Shared by both formats: one seed, one stream
 * of random numbers, the same lines.
 */
function* claimLines(opts: Required<Omit<GenerateRebateOptions, 'format'>>, outcome: RebateExpectedOutcome) {
  const { records, seed, defects } = opts;
  const thresholds = cumulativeRates(REBATE_DEFECTS, defects, 'rebate');
  const rnd = mulberry32(seed);
  const seedTag = seed.toString(36).toUpperCase();
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const months = new Map(PROMOTION_MASTER.map((p) => [p.id, wholeMonths(p)]));
  const listed = PROMOTION_MASTER.filter((p) => p.skus !== undefined);
  const capped = PROMOTION_MASTER.filter((p) => p.maxCents !== undefined);

  let committedCents = 0;
  let accrualCents = 0;
  const pool: Line[] = [];
  let committedSeen = 0;

  const quantity = (): number => {
    const u = rnd();
    return u < 0.8 ? int(1, 999) : u < 0.95 ? int(1000, 4999) : int(5000, 12000);
  };
  /** A unit price at most the cap (40-100 % of it), or 1.00-60.00 without one; the amount a little under q x price. */
  const amountFor = (p: MasterPromotion, q: number): number => {
    const unit = p.maxCents !== undefined ? int(Math.ceil(p.maxCents * 0.4), p.maxCents) : int(100, 6000);
    return Math.max(1, q * unit - int(0, 99));
  };
  const dayIn = (period: string, p: MasterPromotion): string => {
    const [y, m] = period.split('-').map(Number) as [number, number];
    const date = `${period}-${String(int(1, daysInMonth(y, m))).padStart(2, '0')}`;
    // Only whole months inside the window are chosen for valid lines, so any day of them is inside too.
    return date < p.start || date > p.end ? p.start : date;
  };
  const validLine = (p: MasterPromotion, i: number): Line => {
    const period = pick(months.get(p.id)!);
    const q = quantity();
    const line: Line = {
      vendor_id: p.vendor,
      claim_period: period,
      sku: pick(p.skus ?? CATALOGUE[p.vendor]!),
      quantity: q,
      amountCents: amountFor(p, q),
      promotion_id: p.id,
      line_ref: `CL-${seedTag}-${String(i + 1).padStart(7, '0')}`,
      spelling: int(0, 99),
    };
    if (rnd() < 0.7) line.claim_date = dayIn(period, p);
    return line;
  };

  for (let i = 0; i < records; i++) {
    const u = rnd();
    const defect = REBATE_DEFECTS.find((_, d) => u < thresholds[d]!);
    if (defect === 'duplicate' && pool.length > 0) {
      // The same line again, spelt differently (XLSX: the same numbers): same key, so a duplicate.
      yield { ...pick(pool), spelling: int(0, 99) };
      outcome.duplicates++;
      continue;
    }
    let p = pick(PROMOTION_MASTER);
    let line: Line;
    switch (defect) {
      case 'unknown_promotion': {
        line = validLine(p, i);
        if (rnd() < 0.2) {
          // Another vendor's promotion: as unknown for this vendor.
          line.promotion_id = pick(PROMOTION_MASTER.filter((o) => o.vendor !== p.vendor)).id;
        } else line.promotion_id = pick(UNKNOWN_PROMOTIONS);
        break;
      }
      case 'outside_promotion_window': {
        line = validLine(p, i);
        const before = rnd() < 0.5;
        line.claim_period = shiftMonth((before ? p.start : p.end).slice(0, 7), before ? -int(1, 6) : int(1, 6));
        delete line.claim_date;
        if (rnd() < 0.5) {
          const [y, m] = line.claim_period.split('-').map(Number) as [number, number];
          line.claim_date = `${line.claim_period}-${String(int(1, daysInMonth(y, m))).padStart(2, '0')}`;
        }
        break;
      }
      case 'ineligible_sku': {
        p = pick(listed);
        line = validLine(p, i);
        line.sku = pick(CATALOGUE[p.vendor]!.filter((s) => !p.skus!.includes(s)));
        break;
      }
      case 'over_claim': {
        p = pick(capped);
        line = validLine(p, i);
        line.amountCents = Number(line.quantity) * (p.maxCents! + int(1, 300));
        break;
      }
      case 'invalid_quantity':
        line = validLine(p, i);
        line.quantity = pick(BAD_QUANTITIES);
        break;
      case 'invalid_amount':
        line = validLine(p, i);
        line.amountText = pick(BAD_AMOUNTS);
        break;
      case 'duplicate': // nothing committed yet to repeat: a clean line
      case undefined:
        line = validLine(p, i);
        break;
    }
    yield line;
    if (defect !== undefined && defect !== 'duplicate') {
      countHeld(outcome, defect);
      continue;
    }
    outcome.committed++;
    committedCents += line.amountCents;
    accrualCents += oracleAccrualCents(p, line.quantity as number, line.amountCents);
    committedSeen++;
    // Reservoir sampling (algorithm R): every committed line so far is equally likely to be in the pool.
    if (pool.length < DUPLICATE_POOL_SIZE) pool.push(line);
    else {
      const slot = Math.floor(rnd() * committedSeen);
      if (slot < DUPLICATE_POOL_SIZE) pool[slot] = line;
    }
  }
  outcome.committedSum = { field: 'amount', value: centsText(committedCents) };
  outcome.committedAccrual = centsText(accrualCents);
}

/** Writes a claim file in `format` and returns the expected outcome. */
export async function generateRebateClaims(out: string, opts: GenerateRebateOptions): Promise<RebateExpectedOutcome> {
  const { records, seed = 1, defects = {}, format = 'csv' } = opts;
  if (!Number.isSafeInteger(records) || records < 0) throw new RangeError(`records must be a count, got ${records}`);
  if (!REBATE_FORMATS.includes(format)) throw new RangeError(`rebate files are ${REBATE_FORMATS.join(' or ')}`);
  // Checked here, before the file is opened: the lines are drawn lazily while they are written.
  cumulativeRates(REBATE_DEFECTS, defects, 'rebate');
  const outcome: RebateExpectedOutcome = { ...newOutcome('rebate', records, seed, format), committedAccrual: '0.00' };
  const lines = claimLines({ records, seed, defects }, outcome);
  if (format === 'csv') await writeCsv(out, lines);
  else await writeXlsx(out, [{ name: 'Claims', rows: xlsxRows(lines) }]);
  return outcome;
}

/** The amount as a person or a system might write it: `120.50`, `120.5`, ` 120.50 `. */
function csvAmount(line: Line): string {
  if (line.amountText !== undefined) return line.amountText;
  const text = centsText(line.amountCents);
  if (line.spelling < 10 && text.endsWith('0')) return text.slice(0, -1);
  if (line.spelling >= 98) return ` ${text} `;
  return text;
}

async function writeCsv(out: string, lines: Iterable<Line>): Promise<void> {
  const file = createWriteStream(out);
  let failure: unknown;
  file.on('error', (err) => (failure = err));
  let pending = `${REBATE_COLUMNS.join(',')}\n`;
  const flush = async (): Promise<void> => {
    if (failure !== undefined) throw failure;
    if (!file.write(pending)) await once(file, 'drain');
    pending = '';
  };
  try {
    for (const line of lines) {
      const quantity = typeof line.quantity === 'number' && line.spelling === 97 ? ` ${line.quantity}` : line.quantity;
      pending += `${[
        line.vendor_id,
        line.claim_period,
        line.sku,
        String(quantity),
        csvAmount(line),
        line.promotion_id,
        line.claim_date ?? '',
        line.line_ref,
      ]
        .map(csvCell)
        .join(',')}\n`;
      if (pending.length >= WRITE_BATCH_CHARS) await flush();
    }
    await flush();
    file.end();
    await finished(file);
  } catch (err) {
    file.destroy();
    throw err;
  }
}

/** Column headings as people type them; the reader maps them to the canonical names. */
export const XLSX_HEADINGS = [
  'Vendor ID',
  'Claim Period',
  'SKU',
  'Quantity',
  'Amount',
  'Promotion ID',
  'Claim Date',
  'Line Ref',
];

const utcDate = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

function* xlsxRows(lines: Iterable<Line>): Generator<XlsxRowInput> {
  yield XLSX_HEADINGS;
  for (const line of lines) {
    let amount: XlsxCellValue = line.amountText ?? line.amountCents / 100;
    if (line.amountText === undefined && line.spelling < 10) {
      // What Excel itself stores for many decimals: the double's 17 significant digits (1234.5599999999999).
      amount = { value: (line.amountCents / 100).toPrecision(17), format: 0 };
    }
    yield [
      line.vendor_id,
      // Typed `2025-03`, Excel keeps a date: the first of the month.
      utcDate(`${line.claim_period}-01`),
      line.sku,
      line.quantity,
      amount,
      line.promotion_id,
      line.claim_date === undefined ? null : utcDate(line.claim_date),
      line.line_ref,
    ];
  }
}

/** The `ProfileGenerator` of the rebate profile. */
export const rebateGenerator = {
  formats: REBATE_FORMATS,
  defects: REBATE_DEFECTS,
  defaultDefects: {
    unknown_promotion: 0.005,
    outside_promotion_window: 0.005,
    ineligible_sku: 0.005,
    over_claim: 0.005,
    invalid_quantity: 0.005,
    invalid_amount: 0.005,
    duplicate: 0.01,
  },
  generate: (out: string, opts: GenerateOptions) =>
    generateRebateClaims(out, {
      records: opts.records,
      seed: opts.seed,
      defects: opts.defects,
      ...(opts.format ? { format: opts.format as RebateFormat } : {}),
    }),
  references: (out: string) => writePromotionMaster(out),
};
