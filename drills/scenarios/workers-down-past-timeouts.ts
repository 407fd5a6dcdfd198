/**
 * Every worker dies mid-batch and none comes back for longer than the activity and workflow task timeouts, so the
 * server times out what was in flight; one new worker then finishes the batch exactly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { since, waitProgress, waitSettled } from '../harness/wait.ts';
import type { Scenario } from '../types.ts';

/** Stage attempts time out after 8 s (a commit's heartbeat timeout too); workflow tasks after 10 s. */
const TIMEOUT_S = 8;
const DOWN_MS = 25_000;

export const workersDownPastTimeouts: Scenario = {
  name: 'workers-down-past-timeouts',
  summary: `SIGKILL every worker mid-batch and keep them down ${DOWN_MS / 1000} s, past the ${TIMEOUT_S} s activity timeouts; then one worker finishes the batch.`,
  fast: false,
  async run(ctx) {
    const workers = await Promise.all([ctx.spawnWorker(), ctx.spawnWorker()]);
    const { file, expected } = await ctx.generate('workers-down', { records: 15_000, seed: 5 });
    const t0 = Date.now();
    const config = ctx.config({ timeout_seconds: TIMEOUT_S });
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config });
    const atFault = await waitProgress(
      ctx,
      batch.batchId,
      '4 chunks done and more in flight',
      (p) => p.chunksDone >= 4 && p.chunksInFlight > 0,
      120_000,
    );
    const killedAt = since(t0);
    for (const w of workers) process.kill(w.pid, 'SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    ctx.log(`all workers killed at ${killedAt}`);
    await sleep(DOWN_MS);
    const alone = ctx.liveWorkers().length === 0;
    const last = await ctx.spawnWorker();
    await waitSettled(ctx, [batch.batchId], 240_000);
    return {
      batches: [{ batchId: batch.batchId, expected }],
      expectRetry: true,
      fault:
        `SIGKILL workers ${workers.map((w) => w.pid).join(', ')} at ${killedAt} ` +
        `(${atFault.chunksDone}/${atFault.chunks} chunks done, ${atFault.chunksInFlight} in flight); ` +
        `no worker for ${DOWN_MS / 1000} s, then worker ${last.pid}`,
      checks: [
        {
          name: 'no worker ran during the outage',
          ok: alone && atFault.chunksInFlight > 0,
          detail: `${atFault.chunksInFlight} chunk(s) in flight when every worker died`,
        },
      ],
    };
  },
};
