/**
 * The batch workflow's controls as pure functions: the circuit breaker over commit attempts, the tolerated failure
 * thresholds per reason code, and their configuration.
 */
import { describe, expect, it } from 'vitest';
import { resolveBatchConfig } from '../../src/config/batch-config.ts';
import { DEFAULT_CIRCUIT_BREAKER } from '../../src/shared/contracts.ts';
import type { BreakerSample } from '../../src/workflows/circuit-breaker.ts';
import {
  breakerConfig,
  nextCooldown,
  recordSample,
  sampleOf,
  shouldOpen,
  windowStats,
} from '../../src/workflows/circuit-breaker.ts';
import { toleranceExceeded } from '../../src/workflows/tolerated-failures.ts';

const cfg = breakerConfig(undefined);
const MIN = 60_000;

/** `n` chunks finishing one second apart from `t0`, each committed on attempt `attempt`. */
function chunks(t0: number, n: number, attempt: number, samples: BreakerSample[] = []): BreakerSample[] {
  let out = samples;
  for (let i = 0; i < n; i++) out = recordSample(out, sampleOf({ commitAttempt: attempt }, t0 + i * 1000, 10), cfg);
  return out;
}

describe('circuit breaker', () => {
  it("defaults to seed 001's 15 % over 5 minutes", () => {
    expect(cfg).toEqual(DEFAULT_CIRCUIT_BREAKER);
    expect(cfg.failure_rate).toBe(0.15);
    expect(cfg.window_seconds).toBe(300);
  });

  it('counts the failed attempts of a commit that needed retries, and all attempts of a failed chunk', () => {
    expect(sampleOf({ commitAttempt: 1 }, 5, 10)).toEqual({ at: 5, attempts: 1, failures: 0 });
    expect(sampleOf({ commitAttempt: 4 }, 5, 10)).toEqual({ at: 5, attempts: 4, failures: 3 });
    // results of older versions carry no attempt: a first-attempt commit
    expect(sampleOf({}, 5, 10)).toEqual({ at: 5, attempts: 1, failures: 0 });
    expect(sampleOf(null, 5, 10)).toEqual({ at: 5, attempts: 10, failures: 10 });
  });

  it('stays closed below the threshold and opens above it', () => {
    // 17 clean chunks and one that needed a retry: 1 failure in 19 attempts (5.3 %)
    let s = chunks(0, 17, 1);
    s = chunks(17_000, 1, 2, s);
    expect(windowStats(s, 18_000, cfg)).toEqual({ attempts: 19, failures: 1 });
    expect(shouldOpen(s, 18_000, cfg)).toBe(false);
    // three more that needed three attempts each: 7 failures in 28 attempts (25 %)
    s = chunks(18_000, 3, 3, s);
    expect(windowStats(s, 21_000, cfg)).toEqual({ attempts: 28, failures: 7 });
    expect(shouldOpen(s, 21_000, cfg)).toBe(true);
  });

  it('needs min_attempts before it judges: two retried commits at the start do not open it', () => {
    const s = chunks(0, 2, 3);
    expect(windowStats(s, 2000, cfg)).toEqual({ attempts: 6, failures: 4 });
    expect(shouldOpen(s, 2000, cfg)).toBe(false);
  });

  it('forgets failures older than the window', () => {
    const s = chunks(0, 10, 3);
    expect(shouldOpen(s, 10_000, cfg)).toBe(true);
    expect(shouldOpen(s, 6 * MIN, cfg)).toBe(false);
    // a new sample drops what fell out of the window
    expect(recordSample(s, { at: 6 * MIN, attempts: 1, failures: 0 }, cfg)).toHaveLength(1);
  });

  it('keeps a dozen slices however many chunks finish (they are carried across continue-as-new)', () => {
    let s: BreakerSample[] = [];
    for (let i = 0; i < 3000; i++) s = recordSample(s, sampleOf({ commitAttempt: 1 + (i % 2) }, i * 200, 10), cfg);
    expect(s.length).toBeLessThanOrEqual(11);
    // the window's last 300 s hold 1500 chunks: 2250 attempts, 750 failures (slices are 30 s, so one more may count)
    const stats = windowStats(s, 3000 * 200, cfg);
    expect(stats.attempts).toBeGreaterThanOrEqual(2250);
    expect(stats.attempts).toBeLessThanOrEqual(2250 + 225);
    expect(stats.failures / stats.attempts).toBeCloseTo(1 / 3, 2);
  });

  it('does nothing when disabled', () => {
    const off = breakerConfig({ enabled: false });
    expect(shouldOpen(chunks(0, 20, 10), 20_000, off)).toBe(false);
  });

  it('doubles the cooldown after a failed probe, up to the maximum', () => {
    expect(nextCooldown(60, cfg)).toBe(120);
    expect(nextCooldown(480, cfg)).toBe(600);
    expect(nextCooldown(600, cfg)).toBe(600);
  });
});

describe('tolerated failure thresholds', () => {
  it('holds while each reason stays within its percentage of the planned records', () => {
    expect(toleranceExceeded({ schema_violation: 5 }, { schema_violation: 50 }, 1000)).toBeNull();
    expect(toleranceExceeded(undefined, { schema_violation: 999 }, 1000)).toBeNull();
    expect(toleranceExceeded({ schema_violation: 5 }, { parse_error: 999 }, 1000)).toBeNull();
  });

  it('names the reason, the count and the share when one is exceeded', () => {
    expect(toleranceExceeded({ schema_violation: 5 }, { schema_violation: 51 }, 1000)).toBe(
      '51 records held as schema_violation of 1000 (5.1 %) exceed the tolerated 5 %',
    );
    expect(toleranceExceeded({ '*': 10 }, { a: 60, b: 41 }, 1000)).toBe(
      '101 held records of any reason of 1000 (10.1 %) exceed the tolerated 10 %',
    );
  });

  it('0 tolerates none', () => {
    expect(toleranceExceeded({ parse_error: 0 }, { parse_error: 1 }, 1_000_000)).toMatch(/parse_error/);
  });
});

describe('configuration', () => {
  it('leaves both controls out unless configured (the breaker then runs with its defaults)', () => {
    const c = resolveBatchConfig(undefined);
    expect(c.circuit_breaker).toBeUndefined();
    expect(c.tolerated_failures).toBeUndefined();
  });

  it('merges breaker settings over the defaults and keeps thresholds as given', () => {
    const c = resolveBatchConfig({
      batch_config: {
        circuit_breaker: { failure_rate: 0.3, cooldown_seconds: 5 },
        tolerated_failures: { schema_violation: 2.5, '*': 10 },
      },
    });
    expect(c.circuit_breaker).toEqual({ ...DEFAULT_CIRCUIT_BREAKER, failure_rate: 0.3, cooldown_seconds: 5 });
    expect(c.tolerated_failures).toEqual({ schema_violation: 2.5, '*': 10 });
  });

  it.each([
    [{ circuit_breaker: { failure_rate: 1.5 } }, /circuit_breaker\.failure_rate/],
    [{ circuit_breaker: { cooldown: 5 } }, /circuit_breaker.*cooldown/],
    [{ tolerated_failures: { schema_violation: 120 } }, /tolerated_failures\.schema_violation/],
    [{ tolerated_failures: { 'Schema Violation': 5 } }, /tolerated_failures.*reason code/],
  ])('refuses %j with the key named', (batchConfig, message) => {
    expect(() => resolveBatchConfig({ batch_config: batchConfig })).toThrow(message);
  });
});
