/** Activity options built from the batch configuration's per-stage policies. */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type { StagePolicy } from '../shared/contracts.ts';
import { NON_RETRYABLE_FAILURE_TYPES } from '../shared/failure-types.ts';

function retry(p: StagePolicy): NonNullable<ActivityOptions['retry']> {
  return {
    maximumAttempts: p.retry_policy.max_attempts,
    backoffCoefficient: p.retry_policy.backoff_multiplier,
    initialInterval: `${p.retry_policy.initial_interval_seconds}s`,
    maximumInterval: `${p.retry_policy.max_interval_seconds}s`,
    nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURE_TYPES],
  };
}

/**
 * Remote activity options. Long activities heartbeat every few seconds while they work, so a worker that dies is
 * noticed after `heartbeatTimeout`, not after the whole start-to-close limit.
 */
export function activityOptions(p: StagePolicy, opts: { heartbeat?: boolean } = {}): ActivityOptions {
  return {
    startToCloseTimeout: `${p.timeout_seconds}s`,
    ...(opts.heartbeat ? { heartbeatTimeout: `${Math.min(30, p.timeout_seconds)}s` } : {}),
    retry: retry(p),
  };
}

/** Local activity options: run in the worker that runs the chunk workflow, no round trip to the server. */
export function localActivityOptions(p: StagePolicy): LocalActivityOptions {
  return { startToCloseTimeout: `${p.timeout_seconds}s`, retry: retry(p) };
}
