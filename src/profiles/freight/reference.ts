/**
 * Reference data `freight-rates`: the rate contracts carrier invoices are audited against, imported from a CSV file
 * with `sluice reference import freight-rates <file>`.
 *
 * One row per carrier, charge code and validity period:
 *
 *     scac,charge_code,basis,rate,currency,valid_from,valid_to,description
 *     ODFL,400,per_unit,2.34,USD,2024-01-01,2024-12-31,Linehaul per mile
 *     ODFL,400,per_unit,2.41,USD,2025-01-01,,Linehaul per mile
 *     ODFL,LFT,flat,95.00,USD,2024-01-01,,Liftgate
 *
 * `basis` is `flat` (the charge is `rate`, an amount), `per_unit` (the billed quantity times `rate`: per mile, per
 * hour, per pallet, as the contract says) or `per_cwt` (per hundredweight: the billed quantity in pounds times `rate`
 * divided by 100, as LTL carriers bill linehaul with an X12 L1 rate qualifier `CW`). `valid_to` is inclusive; empty means open-ended.
 * `description` is optional, and so is any column order. Rows of one carrier and charge code become one entry, key
 * `SCAC/CHARGE_CODE`, with its periods sorted by `valid_from`; periods that overlap are an error, so there is never a
 * question which rate applied on a date. The file is read whole (a contract table is thousands of rows, not millions).
 */
import type { ReferenceEntry, ReferenceKind } from '../types.ts';
import { InputError } from '../types.ts';
import { readCsvRecords } from '../../formats/csv-rows.ts';
import { parseDecimal, toCents } from './money.ts';
import { ISO_4217, SCAC, isIsoDate } from './schema.ts';

export const RATE_KIND = 'freight-rates';

export const RATE_COLUMNS = ['scac', 'charge_code', 'basis', 'rate', 'currency', 'valid_from', 'valid_to'] as const;
const OPTIONAL_COLUMNS = ['description'] as const;
const BASES: readonly string[] = ['flat', 'per_unit', 'per_cwt'];

export interface RatePeriod {
  basis: 'flat' | 'per_unit' | 'per_cwt';
  /** Decimal text: an amount (flat, at most two decimals) or a unit rate (per_unit, per_cwt: any precision). */
  rate: string;
  currency: string;
  valid_from: string;
  /** Inclusive; absent when open-ended. */
  valid_to?: string;
  description?: string;
}

export interface RateContract {
  scac: string;
  charge_code: string;
  /** Sorted by `valid_from`, never overlapping. */
  periods: RatePeriod[];
}

/** `ODFL/400`: charge codes are upper-cased, as the canonical invoice upper-cases them. */
export const rateKey = (scac: string, chargeCode: string): string => `${scac}/${chargeCode.toUpperCase()}`;

/** Reads a rate contract CSV into one entry per carrier and charge code. Throws `InputError` naming file and line. */
export async function* readRateContracts(file: string, fileName: string): AsyncGenerator<ReferenceEntry> {
  const contracts = new Map<string, RateContract & { lines: number[] }>();
  let checkedHeader = false;
  for await (const row of readCsvRecords(file, fileName)) {
    const fail = (field: string, problem: string): never => {
      throw new InputError(`${fileName}: line ${row.line}: ${field} ${problem}`, {
        file: fileName,
        line: row.line,
        byteOffset: row.byteOffset,
        field,
      });
    };
    if (!checkedHeader) {
      checkHeader(Object.keys(row.fields), fileName);
      checkedHeader = true;
    }
    const cell = (name: string): string => (row.fields[name] ?? '').trim();
    const scac = cell('scac');
    if (!SCAC.test(scac)) fail('scac', `${JSON.stringify(scac)} is not a SCAC (2 to 4 upper-case letters)`);
    const chargeCode = cell('charge_code').toUpperCase();
    if (chargeCode === '') fail('charge_code', 'is empty');
    const basis = cell('basis');
    if (!BASES.includes(basis)) fail('basis', `${JSON.stringify(basis)} must be one of ${BASES.join(', ')}`);
    const rateText = cell('rate');
    const rate = parseDecimal(rateText);
    if (rate === undefined || rate.units < 0n)
      fail('rate', `${JSON.stringify(rateText)} is not a non-negative decimal`);
    if (basis === 'flat' && toCents(rate!) === undefined) {
      fail('rate', `${JSON.stringify(rateText)} is a flat amount and may have at most two decimals`);
    }
    const currency = cell('currency');
    if (!ISO_4217.has(currency)) fail('currency', `${JSON.stringify(currency)} is not an ISO 4217 currency code`);
    const validFrom = cell('valid_from');
    if (!isIsoDate(validFrom)) fail('valid_from', `${JSON.stringify(validFrom)} is not a date YYYY-MM-DD`);
    const validTo = cell('valid_to');
    if (validTo !== '' && !isIsoDate(validTo)) fail('valid_to', `${JSON.stringify(validTo)} is not a date YYYY-MM-DD`);
    if (validTo !== '' && validTo < validFrom) fail('valid_to', `${validTo} is before valid_from ${validFrom}`);
    const description = cell('description');

    const key = rateKey(scac, chargeCode);
    const period: RatePeriod = {
      basis: basis as RatePeriod['basis'],
      rate: rateText,
      currency,
      valid_from: validFrom,
      ...(validTo !== '' && { valid_to: validTo }),
      ...(description !== '' && { description }),
    };
    const contract = contracts.get(key) ?? { scac, charge_code: chargeCode, periods: [], lines: [] };
    contract.periods.push(period);
    contract.lines.push(row.line);
    contracts.set(key, contract);
  }

  for (const [key, { scac, charge_code, periods, lines }] of contracts) {
    const order = periods.map((_, i) => i).sort((a, b) => periods[a]!.valid_from.localeCompare(periods[b]!.valid_from));
    for (let k = 1; k < order.length; k++) {
      const prev = periods[order[k - 1]!]!;
      const next = periods[order[k]!]!;
      if (prev.valid_to === undefined || prev.valid_to >= next.valid_from) {
        const [a, b] = [lines[order[k - 1]!]!, lines[order[k]!]!];
        throw new InputError(
          `${fileName}: lines ${a} and ${b}: the rates of ${key} overlap (${prev.valid_from}..${prev.valid_to ?? ''} and ${next.valid_from}..${next.valid_to ?? ''})`,
          { file: fileName, line: b },
        );
      }
    }
    yield { key, data: { scac, charge_code, periods: order.map((i) => periods[i]!) } satisfies RateContract };
  }
}

function checkHeader(columns: string[], fileName: string): void {
  const missing = RATE_COLUMNS.filter((c) => !columns.includes(c));
  const known = new Set<string>([...RATE_COLUMNS, ...OPTIONAL_COLUMNS]);
  const unknown = columns.filter((c) => !known.has(c));
  if (missing.length > 0 || unknown.length > 0) {
    const problems = [
      missing.length > 0 ? `missing column(s) ${missing.join(', ')}` : '',
      unknown.length > 0 ? `unknown column(s) ${unknown.join(', ')}` : '',
    ].filter(Boolean);
    throw new InputError(
      `${fileName}: header: ${problems.join('; ')} (a freight rate contract has ${[...RATE_COLUMNS, ...OPTIONAL_COLUMNS].join(', ')})`,
      { file: fileName, line: 1 },
      'schema_violation',
    );
  }
}

export const freightRates: ReferenceKind = {
  description: 'freight rate contracts (CSV: scac, charge_code, basis, rate, currency, valid_from, valid_to)',
  read: readRateContracts,
};
