/**
 * Exact decimal arithmetic for money, quantities and weights: a decimal is an integer count of 10^-scale units
 * (`-12.50` is `{ units: -1250n, scale: 2 }`). Totals are reconciled with these, never with floats, so `0.1 + 0.2`
 * equals `0.3` and a tolerance of 0.01 means exactly one cent.
 */

export interface Decimal {
  units: bigint;
  scale: number;
}

/** The canonical text of a decimal in a customs record: an optional `-`, digits, and a `.` with digits. */
export const CANONICAL_DECIMAL = /^-?\d+(?:\.\d+)?$/;

/** Parses canonical decimal text (`1234.50`, `-3`); throws on anything else, which the locale parser rules out. */
export function decimal(text: string): Decimal {
  if (!CANONICAL_DECIMAL.test(text)) throw new RangeError(`not a canonical decimal: ${JSON.stringify(text)}`);
  const negative = text.startsWith('-');
  const [whole = '', fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const units = BigInt(whole + fraction);
  return { units: negative ? -units : units, scale: fraction.length };
}

function rescale(d: Decimal, scale: number): bigint {
  return d.units * 10n ** BigInt(scale - d.scale);
}

export function add(a: Decimal, b: Decimal): Decimal {
  const scale = Math.max(a.scale, b.scale);
  return { units: rescale(a, scale) + rescale(b, scale), scale };
}

export function sub(a: Decimal, b: Decimal): Decimal {
  return add(a, { units: -b.units, scale: b.scale });
}

export function mul(a: Decimal, b: Decimal): Decimal {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

export function abs(a: Decimal): Decimal {
  return a.units < 0n ? { units: -a.units, scale: a.scale } : a;
}

/** -1, 0 or 1 as `a` is below, equal to or above `b` (`1.50` equals `1.5`). */
export function compare(a: Decimal, b: Decimal): -1 | 0 | 1 {
  const scale = Math.max(a.scale, b.scale);
  const x = rescale(a, scale);
  const y = rescale(b, scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

export const sign = (a: Decimal): -1 | 0 | 1 => (a.units < 0n ? -1 : a.units > 0n ? 1 : 0);

/** Canonical text, keeping the scale (`{1250n, 2}` is `12.50`). */
export function format(d: Decimal): string {
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const text = d.scale === 0 ? digits : `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  return negative ? `-${text}` : text;
}

/** Rounds half away from zero to `scale` digits (how invoices round line totals to cents). */
export function round(d: Decimal, scale: number): Decimal {
  if (d.scale <= scale) return { units: rescale(d, scale), scale };
  const divisor = 10n ** BigInt(d.scale - scale);
  const magnitude = d.units < 0n ? -d.units : d.units;
  const rounded = (magnitude + divisor / 2n) / divisor;
  return { units: d.units < 0n ? -rounded : rounded, scale };
}
