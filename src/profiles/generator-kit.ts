/**
 * What every profile's sample generator needs: a seeded PRNG (same seed, same file), defect rates checked and made
 * cumulative, CSV cells, a writer that batches small strings into large writes with back-pressure, and the oracle's
 * counting.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { ExpectedOutcome } from './types.ts';

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Cumulative thresholds in `kinds` order, checked to be known defect kinds whose fractions sum to at most 1: a
 * record draws one number and gets the first defect whose threshold is above it (at most one defect per record).
 */
export function cumulativeRates<K extends string>(
  kinds: readonly K[],
  defects: Partial<Record<K, number>>,
  profile?: string,
): number[] {
  for (const name of Object.keys(defects)) {
    if (!(kinds as readonly string[]).includes(name)) {
      throw new RangeError(`unknown ${profile ? `${profile} ` : ''}defect ${name}; known: ${kinds.join(', ')}`);
    }
  }
  let sum = 0;
  return kinds.map((d) => {
    const rate = defects[d] ?? 0;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`defect rate ${d} must be within 0..1, got ${rate}`);
    sum += rate;
    if (sum > 1 + 1e-9) throw new RangeError(`defect rates add up to more than 1: ${JSON.stringify(defects)}`);
    return sum;
  });
}

const NEEDS_QUOTES = /[",\r\n]/;
/** One RFC 4180 cell: quoted only when it must be. */
export const csvCell = (value: string): string =>
  NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;

/** Characters a generator gathers before one write. */
export const WRITE_BATCH_CHARS = 1 << 18;

/** Joins small strings into large writes and waits for 'drain' when the stream asks it to (back-pressure). */
export class BatchedWriter {
  private pending = '';
  private failure: unknown;
  private readonly onError = (err: unknown): void => {
    this.failure = err;
  };

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', this.onError);
  }

  async write(text: string): Promise<void> {
    this.pending += text;
    if (this.pending.length >= WRITE_BATCH_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const text = this.pending;
    this.pending = '';
    // `once` rejects if the stream errors while we wait.
    if (text !== '' && !this.stream.write(text)) await once(this.stream, 'drain');
  }

  release(): void {
    this.stream.off('error', this.onError);
  }
}

/**
 * The content oracle of a set of committed records (`ExpectedOutcome.committedKeyHash`): hex SHA-256 over their
 * business keys sorted in JavaScript string order, each followed by `\n`. Sorts `keys` in place.
 */
export function committedKeyHash(keys: string[]): string {
  const hash = createHash('sha256');
  for (const key of keys.sort()) hash.update(`${key}\n`);
  return hash.digest('hex');
}

/** A generator's oracle before the first record: nothing counted yet. */
export function newOutcome(profile: string, records: number, seed: number, format?: string): ExpectedOutcome {
  return {
    profile,
    records,
    committed: 0,
    duplicates: 0,
    quarantined: 0,
    byReason: {},
    seed,
    ...(format !== undefined ? { format } : {}),
  };
}

/** Counts one record the batch must hold for review, under its reason code. */
export function countHeld(outcome: ExpectedOutcome, reason: string): void {
  outcome.quarantined++;
  outcome.byReason[reason] = (outcome.byReason[reason] ?? 0) + 1;
}
