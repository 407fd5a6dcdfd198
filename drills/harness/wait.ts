/** Small helpers for scenarios: waiting for conditions that survive the faults they inject. */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchProgress } from '../../src/shared/contracts.ts';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import type { DrillContext } from '../types.ts';

/** Polls `probe` until it returns a value other than undefined/false; errors count as "not yet". */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${opts.timeoutMs / 1000} s waiting for ${what}${why}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/** The batch's live progress, or undefined when no one answers (no worker, Temporal down, not started yet). */
export async function progressOf(ctx: DrillContext, batchId: string): Promise<BatchProgress | undefined> {
  try {
    return await ctx.client.progress(batchId);
  } catch {
    return undefined;
  }
}

/** Whether the batch has nothing in flight: completed, or awaiting review with no chunk running. */
export async function isSettled(ctx: DrillContext, batchId: string): Promise<boolean> {
  try {
    const desc = await ctx.client.temporal.workflow.getHandle(batchWorkflowId(batchId)).describe();
    if (desc.status.name !== 'RUNNING') return true;
    const p = await ctx.client.progress(batchId);
    return (p.status === 'awaiting_review' || p.status === 'completed') && p.chunksInFlight === 0;
  } catch {
    return false;
  }
}

/** Waits until every batch has settled (see isSettled). */
export async function waitSettled(ctx: DrillContext, batchIds: string[], timeoutMs: number): Promise<void> {
  await waitFor(
    `batches ${batchIds.join(', ')} to settle`,
    async () => {
      for (const id of batchIds) if (!(await isSettled(ctx, id))) return false;
      return true;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Waits until `predicate` holds for the batch's progress. */
export function waitProgress(
  ctx: DrillContext,
  batchId: string,
  what: string,
  predicate: (p: BatchProgress) => boolean,
  timeoutMs: number,
): Promise<BatchProgress> {
  return waitFor(
    `batch ${batchId}: ${what}`,
    async () => {
      const p = await progressOf(ctx, batchId);
      return p && predicate(p) ? p : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Waits for a marker file of the drill fault hooks (src/activities/drill-faults.ts) and returns its content. */
export function waitMarker(
  file: string,
  timeoutMs: number,
): Promise<{ pid: number; batchId: string; chunkNo: number; attempt: number; at: string }> {
  return waitFor(`marker ${file}`, () => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined), {
    timeoutMs,
    intervalMs: 50,
  });
}

/** Time since `t0`, for fault descriptions: `12.3 s`. */
export const since = (t0: number): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
