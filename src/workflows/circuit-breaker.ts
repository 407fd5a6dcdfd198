/**
 * The batch workflow's circuit breaker over chunk commits (seed 001: 15 % failures over 5 minutes by default).
 * Pure and deterministic: samples carry workflow time, so the same history always gives the same decisions.
 */
import type { ChunkResult, CircuitBreakerConfig } from '../shared/contracts.ts';
import { DEFAULT_CIRCUIT_BREAKER } from '../shared/contracts.ts';

/** One finished chunk: how many commit attempts it took, and how many of them failed. */
export interface BreakerSample {
  at: number;
  attempts: number;
  failures: number;
}

/** Samples kept at most (and carried across continue-as-new): enough for a window of a busy batch. */
const MAX_SAMPLES = 500;

export function breakerConfig(config: Partial<CircuitBreakerConfig> | undefined): CircuitBreakerConfig {
  return { ...DEFAULT_CIRCUIT_BREAKER, ...config };
}

/**
 * A chunk committed on attempt n counts n - 1 failed attempts and one that succeeded; a chunk that failed (null)
 * counts every attempt its commit stage allows as failed.
 */
export function sampleOf(result: Pick<ChunkResult, 'commitAttempt'> | null, at: number, maxAttempts: number) {
  if (!result) return { at, attempts: maxAttempts, failures: maxAttempts };
  const attempts = Math.max(1, result.commitAttempt ?? 1);
  return { at, attempts, failures: attempts - 1 };
}

/** The samples still inside the window, with the new one appended. */
export function recordSample(
  samples: readonly BreakerSample[],
  sample: BreakerSample,
  cfg: CircuitBreakerConfig,
): BreakerSample[] {
  const since = sample.at - cfg.window_seconds * 1000;
  return [...samples.filter((s) => s.at >= since), sample].slice(-MAX_SAMPLES);
}

export function windowStats(samples: readonly BreakerSample[], now: number, cfg: CircuitBreakerConfig) {
  const since = now - cfg.window_seconds * 1000;
  let attempts = 0;
  let failures = 0;
  for (const s of samples) {
    if (s.at < since) continue;
    attempts += s.attempts;
    failures += s.failures;
  }
  return { attempts, failures };
}

/** True when the failures in the window exceed the threshold over enough attempts to judge. */
export function shouldOpen(samples: readonly BreakerSample[], now: number, cfg: CircuitBreakerConfig): boolean {
  if (!cfg.enabled) return false;
  const { attempts, failures } = windowStats(samples, now, cfg);
  return attempts >= cfg.min_attempts && failures > cfg.failure_rate * attempts;
}

/** The next cooldown after a failed probe: doubled, up to the maximum. */
export function nextCooldown(current: number, cfg: CircuitBreakerConfig): number {
  return Math.min(current * 2, Math.max(cfg.max_cooldown_seconds, cfg.cooldown_seconds));
}
