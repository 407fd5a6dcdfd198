/**
 * Synthetic lab inventory manifests with planted defects and the outcome they must produce (the oracle), for tests,
 * benchmarks and the demo. Deterministic for a seed; streams, so a million records take seconds and little memory.
 */
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { parse } from 'csv-parse';
import { writeXlsx } from '../../formats/xlsx-write.ts';
import type { ExpectedOutcome, GenerateOptions } from '../types.ts';
import { GRANT_PREFIXES } from './schema.ts';
import { QUANTITY_OUTLIER_ABOVE } from './classify.ts';
import {
  BatchedWriter,
  committedKeyHash,
  countHeld,
  csvCell,
  cumulativeRates,
  mulberry32,
  newOutcome,
} from '../generator-kit.ts';

/** Fractions (0..1) of records that get each defect; a record gets at most one. The sum must not exceed 1. */
export interface InventoryDefectRates {
  invalid_grant_code?: number;
  invalid_quantity?: number;
  invalid_date?: number;
  missing_field?: number;
  nonstandard_location?: number;
  quantity_outlier?: number;
  /**
   * Repeats the asset_id, grant_code and quantity of an earlier valid, committed record (the other fields differ),
   * so whichever of the two commits first, the ledger holds the same key and quantity.
   */
  duplicate?: number;
}

export type { ExpectedOutcome } from '../types.ts';

export interface GenerateInventoryOptions {
  records: number;
  defects?: InventoryDefectRates;
  /** Default 1. */
  seed?: number;
  /** Adds an unknown `notes` column: every record is then a `schema_violation`. */
  extraColumn?: boolean;
}

type Defect = keyof InventoryDefectRates;
/** Every kind of defect the generator can plant. */
export const DEFECTS: readonly Defect[] = [
  'invalid_grant_code',
  'invalid_quantity',
  'invalid_date',
  'missing_field',
  'nonstandard_location',
  'quantity_outlier',
  'duplicate',
];

const COLUMNS = ['asset_id', 'grant_code', 'category', 'quantity', 'location', 'acquisition_date'] as const;
type Row = Record<(typeof COLUMNS)[number], string>;

const DEPARTMENTS = ['CH', 'BI', 'PH', 'EN', 'MD', 'GE', 'NS'];
const BUILDINGS = ['CHEM', 'BIO', 'PHYS', 'ENGR', 'MED', 'GEOL', 'NEURO', 'PHARM', 'LIFESCI'];
const CATEGORIES = [
  'Reagent',
  'Solvent',
  'Buffer solution',
  'Acid',
  'Cell line',
  'Antibody',
  'Enzyme',
  'Plasmid',
  'Microscope',
  'Centrifuge, refrigerated',
  'Pipettes',
  'Fume hood',
  'Spectrophotometer',
  'Glassware',
  'Office supplies',
  'Monitor 27"',
  'Incubator\n(CO2, humidified)',
];
const BAD_GRANT_CODES = ['XYZ-', 'nih-r01-', 'R01-', 'NIH', 'NASA-', 'nsf-'];
const BAD_QUANTITIES = ['-3', '-12', '1.5', '2.25', '1e3', 'abc', 'N/A', '12 units', '99999999999999999999', '+4'];
const BAD_DATES = ['2023-02-30', '2021-04-31', '2023-13-01', '03/15/2023', '2023-2-5', '2022-06-00', '15.03.2023'];
const BAD_LOCATIONS = ['Room 101', 'chem-101', 'CHEM 101', 'Bldg 4, Rm 210', 'C-101', 'FREEZER-#3', 'BIOLOGYSCI-101'];
const NOTES = ['', '', '', 'received damaged', 'see ticket 42, replaced', 'calibrated "2024"'];
const DUPLICATE_POOL_SIZE = 4096;
/** Above this many committed records the oracle leaves out `committedKeyHash` (it sorts every key in memory). */
const KEY_HASH_LIMIT = 1_000_000;

/**
 * Writes a manifest to `out` (a file path, or a stream left open for the caller) and returns the expected outcome.
 */
export async function generateInventoryManifest(
  out: NodeJS.WritableStream | string,
  opts: GenerateInventoryOptions,
): Promise<ExpectedOutcome> {
  const { records, defects = {}, seed = 1, extraColumn = false } = opts;
  if (!Number.isSafeInteger(records) || records < 0) throw new RangeError(`records must be a count, got ${records}`);
  const thresholds = cumulativeRates(DEFECTS, defects);

  const rnd = mulberry32(seed);
  // Asset ids carry the seed, so files generated with different seeds never share an idempotency key: the ledger is
  // global, and a key committed by another file's batch would turn this file's record into a duplicate.
  const seedTag = `${seed.toString(36).toUpperCase()}X`;
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

  const grantCode = (): string => {
    const prefix = pick(GRANT_PREFIXES);
    let suffix: string;
    switch (prefix) {
      case 'NIH-':
        suffix = `${pick(['R01', 'R21', 'U01', 'P30'])}-${pick(['GM', 'AI', 'CA', 'HL', 'NS'])}${int(100000, 199999)}`;
        break;
      case 'NSF-':
        suffix = String(int(1500000, 2499999));
        break;
      case 'DOE-':
        suffix = `SC00${int(10000, 99999)}`;
        break;
      case 'DOD-':
        suffix = `W81XWH-${int(18, 24)}-1-0${int(100, 999)}`;
        break;
      case 'EPA-':
        suffix = `RD${int(83900000, 84099999)}`;
        break;
    }
    // Some systems write the suffix in lower case; the canonical record upper-cases it.
    return prefix + (rnd() < 0.1 ? suffix.toLowerCase() : suffix);
  };
  const location = (): string =>
    `${pick(BUILDINGS)}-${pick([String(int(100, 4999)), `${int(1, 9)}${pick(['A', 'B', 'C'])}`, `B${int(1, 40)}`])}`;
  const date = (): string => {
    const month = int(1, 12);
    const day = int(1, month === 2 ? 28 : [4, 6, 9, 11].includes(month) ? 30 : 31);
    return `${int(2008, 2025)}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  };
  // Stray spaces around a value are harmless: validation trims them.
  const padded = (value: string): string => (rnd() < 0.02 ? ` ${value} ` : value);
  const cleanRow = (assetId: string, grant: string): Row => ({
    asset_id: assetId,
    grant_code: grant,
    category: pick(CATEGORIES),
    // Mostly small counts, sometimes up to the outlier threshold itself (which is still fine).
    quantity: padded(String(rnd() < 0.9 ? int(0, 500) : int(501, QUANTITY_OUTLIER_ABOVE))),
    location: padded(location()),
    acquisition_date: date(),
  });

  const outcome: ExpectedOutcome = newOutcome('inventory', records, seed);
  // Keys of committed records that a planted duplicate may repeat: a reservoir sample over the whole file, so
  // duplicates reach back across many chunks while memory stays bounded.
  const pool: Array<[string, string, string]> = [];
  let committedSeen = 0;
  // Content oracle: the business keys (`<asset_id>/<GRANT_CODE>`, as the profile derives them from the trimmed,
  // upper-cased fields) and the quantities of the records committed without review.
  const committedKeys: string[] = [];
  let quantitySum = 0n;

  const file = typeof out === 'string' ? createWriteStream(out) : undefined;
  const writer = new BatchedWriter(file ?? (out as NodeJS.WritableStream));
  try {
    await writer.write(COLUMNS.join(',') + (extraColumn ? ',notes' : '') + '\n');
    for (let i = 0; i < records; i++) {
      const u = rnd();
      const defect = DEFECTS.find((_, d) => u < thresholds[d]!);
      const duplicateOf = defect === 'duplicate' && pool.length > 0 ? pick(pool) : undefined;
      const assetId = `${pick(DEPARTMENTS)}-${seedTag}${String(i + 1).padStart(7, '0')}`;
      // A duplicate may spell the grant code in another case: the canonical key is upper-cased.
      const row = duplicateOf
        ? cleanRow(duplicateOf[0], rnd() < 0.5 ? duplicateOf[1] : duplicateOf[1].toUpperCase())
        : cleanRow(assetId, grantCode());
      // Concurrent chunks may commit a duplicate before the record it repeats: with the same quantity, the ledger's
      // content (the drills' content oracle) does not depend on which one wins.
      if (duplicateOf) row.quantity = duplicateOf[2];
      let cells: string[] | undefined;
      switch (defect) {
        case 'invalid_grant_code':
          row.grant_code = `${pick(BAD_GRANT_CODES)}${int(1000, 99999)}`;
          break;
        case 'invalid_quantity':
          row.quantity = pick(BAD_QUANTITIES);
          break;
        case 'invalid_date':
          row.acquisition_date = pick(BAD_DATES);
          break;
        case 'missing_field': {
          const drop = rnd() < 0.2 && !extraColumn;
          if (drop) {
            // A short row: the last cell is absent rather than blank.
            cells = COLUMNS.slice(0, -1).map((c) => row[c]);
          } else {
            row[pick(COLUMNS)] = pick(['', '   ']);
          }
          break;
        }
        case 'nonstandard_location':
          row.location = pick(BAD_LOCATIONS);
          break;
        case 'quantity_outlier':
          row.quantity = String(int(QUANTITY_OUTLIER_ABOVE + 1, 250_000));
          break;
        case 'duplicate':
        case undefined:
          break;
      }
      cells ??= COLUMNS.map((c) => row[c]);
      if (extraColumn) cells.push(pick(NOTES));
      await writer.write(cells.map(csvCell).join(',') + '\n');

      // With the extra column nothing commits, so the pool stays empty and no duplicate is planted.
      if (extraColumn) countHeld(outcome, 'schema_violation');
      else if (duplicateOf) outcome.duplicates++;
      // Every other defect is named after the reason code it is quarantined with.
      else if (defect !== undefined && defect !== 'duplicate') countHeld(outcome, defect);
      else {
        outcome.committed++;
        committedSeen++;
        if (committedSeen <= KEY_HASH_LIMIT) {
          committedKeys.push(`${row.asset_id.trim()}/${row.grant_code.trim().toUpperCase()}`);
        }
        quantitySum += BigInt(row.quantity.trim());
        // Reservoir sampling (algorithm R): every committed key so far is equally likely to be in the pool.
        const entry: [string, string, string] = [row.asset_id, row.grant_code, row.quantity.trim()];
        if (pool.length < DUPLICATE_POOL_SIZE) pool.push(entry);
        else {
          const slot = Math.floor(rnd() * committedSeen);
          if (slot < DUPLICATE_POOL_SIZE) pool[slot] = entry;
        }
      }
    }
    await writer.flush();
    if (file) {
      file.end();
      await finished(file);
    }
  } catch (err) {
    // Destroying a stream with a write in flight emits an error; without a listener it would crash the process.
    file?.on('error', () => undefined);
    file?.destroy();
    throw err;
  } finally {
    writer.release();
  }
  outcome.committedSum = { field: 'quantity', value: quantitySum.toString() };
  if (committedSeen <= KEY_HASH_LIMIT) outcome.committedKeyHash = committedKeyHash(committedKeys);
  return outcome;
}

/**
 * `sluice generate inventory`: a manifest in CSV, or in XLSX as a spreadsheet export would give it (quantities as
 * numbers and acquisition dates as date cells where they are valid, everything else as text). Same rows, same oracle.
 */
export async function generateInventoryFile(out: string, opts: GenerateOptions): Promise<ExpectedOutcome> {
  const format = opts.format ?? 'csv';
  if (format === 'csv') return generateInventoryManifest(out, opts);
  const csv = `${out}.${process.pid}.tmp.csv`;
  try {
    const expected = await generateInventoryManifest(csv, opts);
    const rows = createReadStream(csv).pipe(parse({ relax_column_count: true }));
    await writeXlsx(out, [{ name: 'Manifest', rows: spreadsheetCells(rows) }], { sharedStrings: false });
    return { ...expected, format: 'xlsx' };
  } finally {
    await rm(csv, { force: true });
  }
}

async function* spreadsheetCells(rows: AsyncIterable<string[]>): AsyncGenerator<(string | number | Date)[]> {
  let header: string[] | undefined;
  for await (const row of rows) {
    if (!header) {
      header = row;
      yield row;
      continue;
    }
    yield row.map((cell, i) => {
      const column = header![i];
      if (column === 'quantity' && /^\d{1,9}$/.test(cell)) return Number(cell);
      if (column === 'acquisition_date' && /^\d{4}-\d{2}-\d{2}$/.test(cell)) {
        const date = new Date(`${cell}T00:00:00Z`);
        if (!Number.isNaN(date.getTime()) && date.toISOString().startsWith(cell)) return date;
      }
      return cell;
    });
  }
}
