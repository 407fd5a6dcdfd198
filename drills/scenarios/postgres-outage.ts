/**
 * PostgreSQL stops for 30 s while chunks are committing. Commits and the stages that read the store fail and are
 * retried (the circuit breaker may pause dispatch meanwhile); once the database is back the batch finishes exactly.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { batchHistories, finalActivityFailures } from '../harness/invariants.ts';
import { since, waitProgress, waitSettled } from '../harness/wait.ts';
import type { Scenario } from '../types.ts';

const OUTAGE_MS = 30_000;

/** Whether `pid` is a live process: not gone, and not a zombie that no one has reaped yet. */
function processAlive(pid: number): boolean {
  try {
    // /proc/<pid>/stat: `pid (comm) state ...`; comm may contain spaces, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export const postgresOutage: Scenario = {
  name: 'postgres-outage',
  summary: `Stop PostgreSQL for ${OUTAGE_MS / 1000} s while chunks are committing; the batch recovers with nothing lost or doubled.`,
  fast: false,
  async run(ctx) {
    await Promise.all([ctx.spawnWorker(), ctx.spawnWorker()]);
    const { file, expected } = await ctx.generate('postgres-outage', { records: 20_000, seed: 4 });
    const t0 = Date.now();
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config: ctx.config() });
    const atFault = await waitProgress(
      ctx,
      batch.batchId,
      '4 chunks done and more in flight',
      (p) => p.chunksDone >= 4 && p.chunksInFlight > 0,
      120_000,
    );
    const pid = ctx.stack.postgresPid();
    const stoppedAt = since(t0);
    await ctx.stack.stopPostgres();
    const down = !processAlive(pid);
    ctx.log(`PostgreSQL (pid ${pid}) stopped at ${stoppedAt}`);
    await sleep(OUTAGE_MS);
    await ctx.stack.startPostgres();
    ctx.log(`PostgreSQL back as pid ${ctx.stack.postgresPid()} at ${since(t0)}`);
    await waitSettled(ctx, [batch.batchId], 300_000);
    // An outage is transient: every commit or read that failed during it must have been retried, not given up.
    const histories = await batchHistories(ctx.client.temporal, batch.batchId);
    const failedForGood = finalActivityFailures(histories);
    // The batch workflow's only short timers are the circuit breaker's cooldowns (the review deadline is days).
    const cooldowns = histories
      .filter((h) => !h.workflowId.includes('/chunk-'))
      .flatMap((h) => h.history.events ?? [])
      .filter((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? Infinity) <= 600).length;
    return {
      batches: [{ batchId: batch.batchId, expected }],
      expectRetry: true,
      livenessLimitMs: 5 * 60_000,
      fault:
        `PostgreSQL pid ${pid} stopped at ${stoppedAt} for ${OUTAGE_MS / 1000} s ` +
        `(${atFault.chunksDone}/${atFault.chunks} chunks done, ${atFault.chunksInFlight} in flight); ` +
        `the circuit breaker waited out ${cooldowns} cooldown(s)`,
      checks: [
        {
          name: 'the database was down while chunks were in flight',
          ok: down && atFault.chunksInFlight > 0 && atFault.chunksDone < atFault.chunks,
          detail: `postmaster ${pid} gone: ${down}; ${atFault.chunksInFlight} chunk(s) in flight at the stop`,
        },
        {
          name: 'no activity gave up during the outage',
          ok: failedForGood.length === 0,
          detail:
            failedForGood.length === 0
              ? 'every failed attempt was retried'
              : `${failedForGood.length} activity failure(s) without retry: ${failedForGood.slice(0, 3).join('; ')}`,
        },
      ],
    };
  },
};
