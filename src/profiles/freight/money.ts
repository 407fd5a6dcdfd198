/**
 * Exact decimal arithmetic for freight money: amounts, rates and quantities are decimal strings in the files and in
 * the canonical record, and every comparison (charges against the total, a billed charge against its contract) is
 * done on scaled integers, so `0.1 + 0.2` is never a question.
 */

/** A decimal as an integer count of `10^-scale` units: `12.50` is `{ units: 1250n, scale: 2 }`. */
export interface Decimal {
  units: bigint;
  scale: number;
}

/** Plain decimal notation as files write it: optional sign, digits, optional fraction. No exponent, no separators. */
const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$|^([+-]?)\.(\d+)$/;

/** Parses plain decimal notation; undefined for anything else (`1e3`, `1,000.00`, `12 USD`, ``). */
export function parseDecimal(text: string): Decimal | undefined {
  const m = DECIMAL.exec(text);
  if (m === null) return undefined;
  const sign = (m[1] ?? m[4]) === '-' ? -1n : 1n;
  const whole = m[2] ?? '0';
  const fraction = m[3] ?? m[5] ?? '';
  return { units: sign * BigInt(whole + fraction), scale: fraction.length };
}

/** The decimal's units at a larger (or equal) scale. */
export function rescale(d: Decimal, scale: number): bigint {
  if (scale < d.scale) throw new RangeError(`cannot rescale ${d.scale} decimals down to ${scale} exactly`);
  return d.units * 10n ** BigInt(scale - d.scale);
}

/** Integer minor units (cents) of an amount with at most two decimals; undefined when it has more. */
export function toCents(d: Decimal): bigint | undefined {
  if (d.scale <= 2) return rescale(d, 2);
  // `12.500` is still a whole number of cents; `12.505` is not.
  const extra = 10n ** BigInt(d.scale - 2);
  return d.units % extra === 0n ? d.units / extra : undefined;
}

/** `1234n` -> `"12.34"`, `-5n` -> `"-0.05"`. */
export function formatCents(cents: bigint): string {
  return formatUnits(cents, 2);
}

/** Units at `scale` as plain decimal text with exactly `scale` decimals. */
export function formatUnits(units: bigint, scale: number): string {
  const sign = units < 0n ? '-' : '';
  const digits = (units < 0n ? -units : units).toString().padStart(scale + 1, '0');
  return scale === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/**
 * The shortest plain text of a decimal: no `+`, no leading zeros, no trailing fractional zeros (`+002.500` ->
 * `2.5`, `-0.0` -> `0`). Quantities and rates are stored this way, so the same value reads the same from every format.
 */
export function normalizeDecimal(d: Decimal): string {
  let { units, scale } = d;
  while (scale > 0 && units % 10n === 0n) {
    units /= 10n;
    scale -= 1;
  }
  return formatUnits(units, scale);
}

/** `quantity x rate` in cents, rounded half away from zero (the usual rule on freight bills). */
export function multiplyToCents(quantity: Decimal, rate: Decimal): bigint {
  const units = quantity.units * rate.units;
  const scale = quantity.scale + rate.scale;
  if (scale <= 2) return units * 10n ** BigInt(2 - scale);
  const divisor = 10n ** BigInt(scale - 2);
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const rounded = (abs + divisor / 2n) / divisor;
  return negative ? -rounded : rounded;
}

export const abs = (n: bigint): bigint => (n < 0n ? -n : n);
