/**
 * Business rules on a valid freight invoice: every charge line is audited against the carrier's rate contract
 * (reference kind `freight-rates`), and the invoice is held for dispute review when a charge deviates from the
 * contract by more than the tolerance, or when a charge has no contract rate to audit it against. The batch's format
 * share decides its route (seed 000's `routing_rules`); a batch with no route is held for a person.
 */
import { z } from 'zod';
import type { Classification, FieldIssue, ProfileContext, ReferenceLookup } from '../types.ts';
import type { Decimal } from './money.ts';
import {
  abs,
  formatCents,
  multiplyToCents,
  normalizeDecimal as normalizeQuantity,
  parseDecimal,
  toCents,
} from './money.ts';
import type { FreightFormat, FreightInvoice } from './schema.ts';
import type { RateContract, RatePeriod } from './reference.ts';
import { RATE_KIND, rateKey } from './reference.ts';

/** Hold reason codes, highest priority first. */
export const HOLD_REASON_CODES = ['unrouted', 'rate_variance', 'no_contract_rate'] as const;
export type HoldReasonCode = (typeof HOLD_REASON_CODES)[number];

/** The label of an invoice whose every charge matched its contract within tolerance. */
export const AUDITED = 'audited';

/**
 * `batch_config.profile_options` for freight. A charge passes when it is within `rate_tolerance_pct` percent of the
 * contract amount OR within `rate_tolerance_floor` (currency units) of it, whichever allows more: the percentage
 * governs large charges, the floor keeps a few cents of rounding on a small accessorial from holding an invoice.
 */
export const freightOptionsSchema = z.strictObject({
  /** Percent of the contract amount, 0 to 100; precise to 0.001. Default 2. */
  rate_tolerance_pct: z.number().min(0).max(100).default(2),
  /** Absolute tolerance in the invoice currency, e.g. 1 for one dollar; precise to 0.01. Default 1. */
  rate_tolerance_floor: z.number().min(0).max(1_000_000).default(1),
});
export type FreightOptions = z.output<typeof freightOptionsSchema>;

export const DEFAULT_OPTIONS: FreightOptions = { rate_tolerance_pct: 2, rate_tolerance_floor: 1 };

/** Tolerance in exact integers: thousandths of a percent, and cents. */
export interface Tolerance {
  pctMilli: bigint;
  floorCents: bigint;
}

export function toleranceOf(options: Record<string, unknown>): Tolerance {
  const parsed = freightOptionsSchema.parse(options);
  return {
    pctMilli: BigInt(Math.round(parsed.rate_tolerance_pct * 1000)),
    floorCents: BigInt(Math.round(parsed.rate_tolerance_floor * 100)),
  };
}

/**
 * Whether `billed` deviates from `expected` by more than the tolerance: more than `pct` percent of the expected
 * amount AND more than the floor. Exactly at the tolerance is within it.
 */
export function exceedsTolerance(billedCents: bigint, expectedCents: bigint, tolerance: Tolerance): boolean {
  const deviation = abs(billedCents - expectedCents);
  if (deviation <= tolerance.floorCents) return false;
  // deviation / |expected| > pct / 100  <=>  deviation * 100_000 > |expected| * pctMilli
  return deviation * 100_000n > abs(expectedCents) * tolerance.pctMilli;
}

// ---------------------------------------------------------------------------------------------------------------
// Routing (seed 000's routing_rules)

/**
 * Where a batch goes, from its format share (seed 000): `edi` when EDI documents are more than `edi_threshold` of
 * it, else `schema` (the canonical schema validation every format gets) when `xml_fallback` is on, else no route:
 * the invoices are held as `unrouted` for a person. `pdf_threshold` has no effect: freight reads no PDF.
 */
export type Route = 'edi' | 'schema';

export interface FreightRouting {
  edi_threshold: number;
  xml_fallback: boolean;
}

/** Seed 000's values, used for any rule the batch configuration leaves out. */
export const DEFAULT_ROUTING: FreightRouting = { edi_threshold: 0.3, xml_fallback: true };

export function routingOf(routing: ProfileContext['routing']): FreightRouting {
  const edi = routing.edi_threshold;
  const xml = routing.xml_fallback;
  return {
    edi_threshold: typeof edi === 'number' ? edi : DEFAULT_ROUTING.edi_threshold,
    xml_fallback: typeof xml === 'boolean' ? xml : DEFAULT_ROUTING.xml_fallback,
  };
}

/** Each format's share of `formats` (0..1). A sluice batch is one file in one format, so one share is 1. */
export function formatShares(formats: readonly FreightFormat[]): Record<FreightFormat, number> {
  const counts: Record<FreightFormat, number> = { x12: 0, xml: 0, csv: 0 };
  for (const f of formats) counts[f] += 1;
  const n = formats.length || 1;
  return { x12: counts.x12 / n, xml: counts.xml / n, csv: counts.csv / n };
}

export function routeFor(shares: Record<FreightFormat, number>, routing: FreightRouting): Route | undefined {
  if (shares.x12 > routing.edi_threshold) return 'edi';
  if (routing.xml_fallback) return 'schema';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Classification

/** What classifying a chunk needs, loaded once per chunk by `prepareFreight`. */
export interface FreightPrepared {
  /** Contracts by `SCAC/CHARGE_CODE`; a key absent here has no contract. */
  contracts: ReadonlyMap<string, RateContract>;
  tolerance: Tolerance;
  route: Route | undefined;
  routing: FreightRouting;
  shares: Record<FreightFormat, number>;
}

/** Loads the contracts of every carrier and charge code in the chunk in one query, and decides the route. */
export async function prepareFreight(
  records: readonly FreightInvoice[],
  lookup: ReferenceLookup,
  context: ProfileContext,
): Promise<FreightPrepared> {
  const keys = new Set<string>();
  for (const r of records) for (const c of r.charges) keys.add(rateKey(r.scac, c.charge_code));
  const found = await lookup.reference(RATE_KIND, [...keys]);
  const contracts = new Map<string, RateContract>();
  for (const [key, data] of found) contracts.set(key, data as RateContract);
  const routing = routingOf(context.routing);
  const shares = formatShares(records.map((r) => r.source_format));
  return { contracts, tolerance: toleranceOf(context.options), route: routeFor(shares, routing), routing, shares };
}

/** The contract period in force on `date` (ISO dates compare as text), or undefined. */
export function periodOn(contract: RateContract, date: string): RatePeriod | undefined {
  return contract.periods.find((p) => p.valid_from <= date && (p.valid_to === undefined || date <= p.valid_to));
}

/** The contract amount of a charge in cents, or the issue that prevents computing it. */
function contractAmount(
  period: RatePeriod,
  quantity: Decimal | undefined,
): { cents: bigint; how: string } | { problem: string } {
  const rate = parseDecimal(period.rate)!;
  // The reference reader admits flat rates only as amounts with at most two decimals.
  if (period.basis === 'flat') return { cents: toCents(rate)!, how: `flat ${period.rate}` };
  if (quantity === undefined) {
    return { problem: `the contract rate is ${period.rate} per unit, but the charge has no quantity` };
  }
  const q = normalizeQuantity(quantity);
  if (period.basis === 'per_cwt') {
    // Pounds times the rate per hundred pounds: the quantity in hundredweight is the same digits two places left.
    const cwt = { units: quantity.units, scale: quantity.scale + 2 };
    return { cents: multiplyToCents(cwt, rate), how: `${q} lb x ${period.rate} per cwt` };
  }
  return { cents: multiplyToCents(quantity, rate), how: `${q} x ${period.rate}` };
}

export function classifyFreight(record: FreightInvoice, prepared?: FreightPrepared): Classification {
  const contracts = prepared?.contracts ?? new Map<string, RateContract>();
  const tolerance = prepared?.tolerance ?? toleranceOf({});
  const issues: FieldIssue[] = [];

  if (prepared !== undefined && prepared.route === undefined) {
    const { routing, shares } = prepared;
    issues.push({
      path: '',
      code: 'unrouted',
      message:
        `no route for this batch: EDI is ${Math.round(shares.x12 * 100)}% of it, not above edi_threshold ` +
        `${routing.edi_threshold}, and xml_fallback is off`,
      value: record.source_format,
    });
  }

  const pct = `${Number(tolerance.pctMilli) / 1000}%`;
  const floor = formatCents(tolerance.floorCents);
  record.charges.forEach((charge, i) => {
    const path = `charges[${i}]`;
    const contract = contracts.get(rateKey(record.scac, charge.charge_code));
    if (contract === undefined) {
      issues.push({
        path: `${path}.charge_code`,
        code: 'no_contract_rate',
        message: `carrier ${record.scac} has no contract rate for charge code ${charge.charge_code}`,
        value: charge.charge_code,
      });
      return;
    }
    const period = periodOn(contract, record.invoice_date);
    if (period === undefined) {
      issues.push({
        path: `${path}.charge_code`,
        code: 'no_contract_rate',
        message: `the contract for ${record.scac} ${charge.charge_code} is not in force on ${record.invoice_date}`,
        value: charge.charge_code,
      });
      return;
    }
    if (period.currency !== record.currency) {
      issues.push({
        path: `${path}.charge_code`,
        code: 'no_contract_rate',
        message: `the contract for ${record.scac} ${charge.charge_code} is in ${period.currency}, the invoice in ${record.currency}`,
        value: record.currency,
      });
      return;
    }
    const quantity = charge.quantity === undefined ? undefined : parseDecimal(charge.quantity);
    const expected = contractAmount(period, quantity);
    if ('problem' in expected) {
      issues.push({ path: `${path}.quantity`, code: 'rate_variance', message: expected.problem });
      return;
    }
    const billed = toCents(parseDecimal(charge.amount)!)!;
    if (exceedsTolerance(billed, expected.cents, tolerance)) {
      const diff = billed - expected.cents;
      issues.push({
        path: `${path}.amount`,
        code: 'rate_variance',
        message:
          `billed ${charge.amount}, contract ${formatCents(expected.cents)} (${expected.how}): ` +
          `${diff > 0n ? 'over' : 'under'} by ${formatCents(abs(diff))}, beyond the tolerance of ${pct} or ${floor}`,
        value: charge.amount,
      });
    }
  });

  for (const reason of HOLD_REASON_CODES) {
    if (issues.some((i) => i.code === reason)) return { hold: true, reasonCode: reason, issues };
  }
  return { hold: false, label: AUDITED };
}
