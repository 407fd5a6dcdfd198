/**
 * One chunk: parse -> validate -> classify -> commit, each with its own retry policy from the batch configuration.
 * Parse, validate and classify are short and pure, so they run as local activities (no server round trip) in the
 * worker that runs this workflow, which also keeps their records in memory for the next stage. Commit is a regular
 * activity with heartbeats. Inputs and results are references and counts; records never enter history.
 *
 * A batch whose configuration names task queues (rebate accruals) runs classification as a regular activity on the
 * compute queue, so heavy work cannot starve the fast path, and commits on a queue whose workers rate-limit them.
 * Without `task_queues` the commands are exactly those of earlier versions, so their histories replay.
 */
import { ApplicationFailure, ActivityFailure, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { SluiceActivities } from '../activities/index.ts';
import type { ChunkCommitResult, ChunkInput, ChunkResult } from '../shared/contracts.ts';
import { FailureType } from '../shared/failure-types.ts';
import { activityOptions, localActivityOptions } from './activity-options.ts';

const INPUT_FAILURES: readonly string[] = [FailureType.ParseError, FailureType.SchemaViolation];

export async function chunkWorkflow(input: ChunkInput): Promise<ChunkResult> {
  const { stages, task_queues: queues = {} } = input.config;
  const { parseChunk } = proxyLocalActivities<SluiceActivities>(localActivityOptions(stages.parse));
  const { validateChunk } = proxyLocalActivities<SluiceActivities>(localActivityOptions(stages.validate));
  const { classifyChunk } = queues.classify
    ? proxyActivities<SluiceActivities>({
        ...activityOptions(stages.classify, { heartbeat: true }),
        taskQueue: queues.classify,
      })
    : proxyLocalActivities<SluiceActivities>(localActivityOptions(stages.classify));
  const { commitChunk, quarantineChunk } = proxyActivities<SluiceActivities>({
    ...activityOptions(stages.commit, { heartbeat: true }),
    ...(queues.commit ? { taskQueue: queues.commit } : {}),
  });
  const ref = { batchId: input.batchId, profile: input.profile, sha256: input.sha256, chunkNo: input.chunkNo };

  try {
    await parseChunk(ref);
    await validateChunk(ref);
    await classifyChunk(ref);
  } catch (err) {
    // A chunk that cannot be read is held for review record by record; nothing is dropped, the batch goes on.
    const cause = err instanceof ActivityFailure ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type && INPUT_FAILURES.includes(cause.type)) {
      return chunkResult(input.chunkNo, await quarantineChunk({ ref, error: cause.message }));
    }
    throw err;
  }
  return chunkResult(input.chunkNo, await commitChunk(ref));
}

/** Splits a commit result into the chunk's counts and what the batch's breaker and thresholds read. */
function chunkResult(chunkNo: number, result: ChunkCommitResult): ChunkResult {
  const { heldByReason, attempt, ...counts } = result;
  return { chunkNo, counts, heldByReason, commitAttempt: attempt };
}
