/**
 * Decimal-exact money and tiered rebate accruals. Amounts are integer cents (bigint) and rates integer millionths,
 * so an accrual is one integer multiplication and one rounded division: no float ever touches money, and the same
 * claim line gives the same accrual on every machine (classification runs again from the blob after a crash).
 */

/** Rates are written with at most 6 decimals (`0.035`, `0.0125`) and held as integer millionths. */
export const RATE_SCALE = 1_000_000n;
const RATE = /^(0|1)(?:\.(\d{1,6}))?$/;
const MONEY = /^(\d+)(?:\.(\d+))?$/;

/** A rate `0`..`1` with up to 6 decimals as millionths, or undefined. `0.035` -> 35000n. */
export function parseRate(text: string): bigint | undefined {
  const m = RATE.exec(text);
  if (m === null) return undefined;
  const micro = BigInt(m[1]!) * RATE_SCALE + BigInt((m[2] ?? '').padEnd(6, '0'));
  return micro <= RATE_SCALE ? micro : undefined;
}

/** Millionths back to the shortest decimal text: 35000n -> `0.035`, 1000000n -> `1`. */
export function formatRate(micro: bigint): string {
  const whole = micro / RATE_SCALE;
  const frac = (micro % RATE_SCALE).toString().padStart(6, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

/**
 * A non-negative decimal with at most 2 significant decimals as integer cents (`12.5` -> 1250n, `12.340` -> 1234n);
 * undefined for anything else (signs, exponents, thousands separators, a third non-zero decimal).
 */
export function toCents(text: string): bigint | undefined {
  const m = MONEY.exec(text);
  if (m === null) return undefined;
  const decimals = m[2] ?? '';
  if (/[1-9]/.test(decimals.slice(2))) return undefined;
  return BigInt(m[1]!) * 100n + BigInt(decimals.slice(0, 2).padEnd(2, '0'));
}

/** Integer cents as a 2-decimal string: 1250n -> `12.50`. */
export function formatCents(cents: bigint): string {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

/** `numerator / denominator` rounded half up (both positive): the usual commercial rounding of a cent. */
function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** One step of a promotion's tier schedule: lines of at least `minQuantity` units accrue at `rate`. */
export interface Tier {
  minQuantity: number;
  /** Canonical decimal text, e.g. `0.035`. */
  rate: string;
}

/**
 * Parses a tier schedule `min_quantity:rate;...` such as `0:0.02;1000:0.035;5000:0.05`: the first tier starts at 0,
 * thresholds strictly increase, rates are 0..1 with at most 6 decimals. Returns the tiers or the problem.
 */
export function parseTiers(text: string): { tiers: Tier[] } | { error: string } {
  const tiers: Tier[] = [];
  const parts = text.split(';').map((p) => p.trim());
  for (const part of parts) {
    const m = /^(\d{1,9}):(.+)$/.exec(part);
    if (m === null) return { error: `tier ${JSON.stringify(part)} is not <min_quantity>:<rate>` };
    const minQuantity = Number(m[1]);
    const micro = parseRate(m[2]!.trim());
    if (micro === undefined) {
      return { error: `tier ${JSON.stringify(part)}: the rate must be a decimal from 0 to 1 with at most 6 decimals` };
    }
    const previous = tiers.at(-1);
    if (previous === undefined && minQuantity !== 0) return { error: 'the first tier must start at quantity 0' };
    if (previous !== undefined && minQuantity <= previous.minQuantity) {
      return { error: `tier thresholds must increase: ${minQuantity} follows ${previous.minQuantity}` };
    }
    tiers.push({ minQuantity, rate: formatRate(micro) });
  }
  return { tiers };
}

/** Written back as the master file writes it: `0:0.02;1000:0.035;5000:0.05`. */
export const formatTiers = (tiers: readonly Tier[]): string => tiers.map((t) => `${t.minQuantity}:${t.rate}`).join(';');

/**
 * How the tier schedule applies to a line's quantity:
 * - `all_units`: the whole line accrues at the rate of the highest tier its quantity reaches (a retroactive tier,
 *   the common rebate agreement): 1,200 units at `0:0.02;1000:0.035` accrue 3.5 % of the whole amount.
 * - `incremental`: each tier's rate applies only to the units within it (like tax brackets): of 1,200 units, 1,000
 *   accrue 2 % and 200 accrue 3.5 %, each share of the amount in proportion to its units.
 */
export const TIER_BASES = ['all_units', 'incremental'] as const;
export type TierBasis = (typeof TIER_BASES)[number];

export interface Accrual {
  /** 1-based tier the line's quantity reaches. */
  tier: number;
  /** That tier's rate (`incremental`: the rate of the top tier reached; lower units accrued at lower rates). */
  rate: string;
  /** The accrual in cents, rounded half up once, at the end. */
  cents: bigint;
  /** The same as a 2-decimal string. */
  amount: string;
}

/** The 0-based index of the highest tier whose threshold `quantity` reaches (thresholds are inclusive). */
export function tierIndex(tiers: readonly Tier[], quantity: number): number {
  let index = 0;
  tiers.forEach((t, i) => {
    if (quantity >= t.minQuantity) index = i;
  });
  return index;
}

/**
 * The accrual of a line of `quantity` units claimed at `amountCents` under `tiers`. Exact: the amount times the
 * rate (or, incrementally, times the unit-weighted sum of rates over the quantity) is one fraction of integers,
 * rounded half up to the cent once.
 */
export function computeAccrual(
  amountCents: bigint,
  quantity: number,
  tiers: readonly Tier[],
  basis: TierBasis = 'all_units',
): Accrual {
  if (tiers.length === 0) throw new RangeError('a tier schedule needs at least one tier');
  if (!(Number.isSafeInteger(quantity) && quantity > 0)) throw new RangeError(`quantity must be positive: ${quantity}`);
  const index = tierIndex(tiers, quantity);
  const top = tiers[index]!;
  let cents: bigint;
  if (basis === 'all_units') {
    cents = divideHalfUp(amountCents * parseRate(top.rate)!, RATE_SCALE);
  } else {
    // Sum over tiers of (units within the tier x rate), as millionths of a unit; the amount is spread evenly
    // over the units, so the accrual is amount x that sum / (quantity x 10^6).
    let weighted = 0n;
    tiers.forEach((t, i) => {
      const upper = tiers[i + 1]?.minQuantity ?? Number.POSITIVE_INFINITY;
      const units = Math.max(0, Math.min(quantity, upper) - t.minQuantity);
      weighted += BigInt(units) * parseRate(t.rate)!;
    });
    cents = divideHalfUp(amountCents * weighted, BigInt(quantity) * RATE_SCALE);
  }
  return { tier: index + 1, rate: top.rate, cents, amount: formatCents(cents) };
}
