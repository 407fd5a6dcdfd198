/**
 * The batch workflow's circuit breaker over chunk commits (seed 001: 15 % failures over 5 minutes by default).
 * Pure and deterministic: samples carry workflow time, so the same history always gives the same decisions.
 */
import type { ChunkResult, CircuitBreakerConfig } from '../shared/contracts.ts';
import { DEFAULT_CIRCUIT_BREAKER } from '../shared/contracts.ts';

/**
 * Commit attempts and failures of the chunks that finished within one slice of the window (a tenth of it): the
 * samples stay a dozen small objects whatever the pace, since they are carried across continue-as-new.
 */
export interface BreakerSample {
  at: number;
  attempts: number;
  failures: number;
}

const SLICES_PER_WINDOW = 10;

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

/** The slices still inside the window, with the new sample added to its slice. */
export function recordSample(
  samples: readonly BreakerSample[],
  sample: BreakerSample,
  cfg: CircuitBreakerConfig,
): BreakerSample[] {
  const windowMs = cfg.window_seconds * 1000;
  const sliceMs = Math.max(1000, Math.floor(windowMs / SLICES_PER_WINDOW));
  const at = sample.at - (sample.at % sliceMs);
  const kept = samples.filter((s) => s.at >= sample.at - windowMs);
  const last = kept.at(-1);
  if (last && last.at === at) {
    return [
      ...kept.slice(0, -1),
      { at, attempts: last.attempts + sample.attempts, failures: last.failures + sample.failures },
    ];
  }
  return [...kept, { ...sample, at }];
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
