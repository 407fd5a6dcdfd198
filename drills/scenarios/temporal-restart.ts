/**
 * The Temporal server goes away mid-batch (SIGKILL, as in a crash) while a commit is in flight, and comes back on the
 * same database file and port 20 s later: longer than the workers keep retrying a completion (about 10 s) and than
 * the batch's 10 s stage timeouts, so the server times out what was in flight. The workers reconnect by themselves
 * and the batch finishes with exactly its oracle's outcome.
 */
import path from 'node:path';
import { since, waitMarker, waitSettled } from '../harness/wait.ts';
import type { Scenario } from '../types.ts';

const DOWN_MS = 20_000;
const CHUNK = 4;

export const temporalRestart: Scenario = {
  name: 'temporal-restart',
  summary: `SIGKILL the Temporal dev server while a commit is in flight and restart it ${DOWN_MS / 1000} s later on the same database file; the workers carry on.`,
  fast: true,
  async run(ctx) {
    // A short stall after chunk CHUNK's commit pins the moment: the activity is in flight when the server dies.
    const markerDir = path.join(ctx.dir, 'markers');
    const fault = JSON.stringify({ stallAfterCommitMs: 3_000, chunks: [CHUNK], onlyAttempt: 1, markerDir });
    const env = { SLUICE_DRILL_FAULT: fault };
    const workers = await Promise.all([ctx.spawnWorker({ env }), ctx.spawnWorker({ env })]);
    const { file, expected } = await ctx.generate('temporal-restart', { records: 9_000, seed: 3 });
    const t0 = Date.now();
    const config = ctx.config({ timeout_seconds: 10 });
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config });
    await waitMarker(path.join(markerDir, `${batch.batchId}-${CHUNK}-committed`), 120_000);
    const pid = ctx.stack.temporalPid();
    const killedAt = since(t0);
    await ctx.stack.restartTemporal({ hard: true, downForMs: DOWN_MS });
    ctx.log(`Temporal (pid ${pid}) killed at ${killedAt}, back as pid ${ctx.stack.temporalPid()} at ${since(t0)}`);
    await waitSettled(ctx, [batch.batchId], 180_000);
    const survivors = workers.filter((w) => ctx.liveWorkers().includes(w)).length;
    return {
      batches: [{ batchId: batch.batchId, expected }],
      expectRetry: true,
      fault: `SIGKILL Temporal pid ${pid} at ${killedAt} (chunk ${CHUNK}'s commit in flight), restarted after ${DOWN_MS / 1000} s`,
      checks: [
        {
          name: 'the workers survived the restart',
          ok: survivors === workers.length,
          detail: `${survivors} of ${workers.length} worker processes still running`,
        },
      ],
    };
  },
};
