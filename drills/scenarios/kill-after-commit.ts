/**
 * The worst moment to die: a chunk's transaction has committed, and the worker is SIGKILLed before the activity
 * reports it. The commit is retried on another worker, which must find the chunk committed and change nothing.
 */
import path from 'node:path';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import { retriesIn } from '../harness/invariants.ts';
import { since, waitMarker, waitSettled } from '../harness/wait.ts';
import type { Scenario } from '../types.ts';

const CHUNK = 3;

export const killAfterCommit: Scenario = {
  name: 'kill-after-commit',
  summary: `SIGKILL the worker right after chunk ${CHUNK}'s commit transaction and before the activity completes; a second worker retries the commit, which changes nothing.`,
  fast: true,
  async run(ctx) {
    const markerDir = path.join(ctx.dir, 'markers');
    const fault = { stallAfterCommitMs: 300_000, chunks: [CHUNK], onlyAttempt: 1, markerDir };
    const first = await ctx.spawnWorker({ env: { SLUICE_DRILL_FAULT: JSON.stringify(fault) } });
    const { file, expected } = await ctx.generate('kill-after-commit', { records: 4000, seed: 2 });
    const t0 = Date.now();
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config: ctx.config() });

    const marker = await waitMarker(path.join(markerDir, `${batch.batchId}-${CHUNK}-committed`), 120_000);
    process.kill(marker.pid, 'SIGKILL');
    const killedAt = since(t0);
    await first.exited;
    const { rows } = await ctx.db.query(
      'SELECT committed_at IS NOT NULL AS committed FROM batch_chunk WHERE batch_id = $1 AND chunk_no = $2',
      [batch.batchId, CHUNK],
    );
    const committedAtKill = rows[0]?.committed === true;
    ctx.log(`killed worker ${marker.pid} after chunk ${CHUNK} committed (attempt ${marker.attempt}) at ${killedAt}`);

    const second = await ctx.spawnWorker();
    await waitSettled(ctx, [batch.batchId], 180_000);

    const chunkId = `${batchWorkflowId(batch.batchId)}/chunk-${CHUNK}`;
    const history = await ctx.client.temporal.workflow.getHandle(chunkId).fetchHistory();
    const commitRetries = retriesIn([{ workflowId: chunkId, runId: '', history }]).filter((r) =>
      /commitChunk attempt/.test(r),
    );
    const audits = await ctx.db.query(
      `SELECT count(*)::int AS n FROM audit_event WHERE batch_id = $1 AND event = 'chunk_committed' AND chunk_no = $2`,
      [batch.batchId, CHUNK],
    );
    return {
      batches: [{ batchId: batch.batchId, expected }],
      expectRetry: true,
      fault:
        `SIGKILL worker ${marker.pid} at ${killedAt}, after chunk ${CHUNK}'s commit and before its completion; ` +
        `worker ${second.pid} started`,
      checks: [
        {
          name: 'the kill came after the commit',
          ok: committedAtKill && marker.pid === first.pid,
          detail: `chunk ${CHUNK} committed in the store when worker ${marker.pid} was killed: ${committedAtKill}`,
        },
        {
          name: `chunk ${CHUNK}'s commit ran again`,
          ok: commitRetries.length > 0,
          detail: commitRetries.join('; ') || 'no second commit attempt in the chunk history',
        },
        {
          name: `chunk ${CHUNK} committed once`,
          ok: audits.rows[0]?.n === 1,
          detail: `${audits.rows[0]?.n} chunk_committed audit event(s)`,
        },
      ],
    };
  },
};
