/**
 * Twenty batches at once against a PostgreSQL with few connections: the server accepts 20, and while the batches
 * run the drill holds 15 of them idle, so two workers whose pools may open 20 each (src/workers/worker.ts) share the
 * handful left with the drill's own pool. Connections run out; "too many clients" must be a transient error that is
 * retried, not a failed batch or a crashed worker. Every batch must settle with the oracle's counts and both workers
 * must live. (Measured: at 20 batches of 4 chunks the workers never hold more than about 5 connections at once, so
 * a low max_connections alone would not bite; the idle connections make sure it does.)
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { BatchReport } from '../../src/shared/contracts.ts';
import type { ExpectedOutcome } from '../../src/profiles/types.ts';
import type { DrillWorker, Scenario } from '../types.ts';
import type { Check } from './support.ts';
import { check, fileSize, logDirOf, logLines } from './support.ts';
import { waitFor } from '../harness/wait.ts';

const MAX_CONNECTIONS = 20;
/** Connections the drill holds while the batches run; the rest is all the workers and the drill's pool get. */
const HELD = 16;
const BATCHES = 20;
const WORKERS = 2;
const RECORDS = 800;

const CLIENT_BACKENDS = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`;

export const manyBatchesFewConnections: Scenario = {
  name: 'many-batches-few-connections',
  summary:
    `${BATCHES} batches at once, ${WORKERS} workers, PostgreSQL max_connections=${MAX_CONNECTIONS} with ${HELD} held idle: ` +
    'connections run out, all batches settle exact, no worker dies',
  fast: false,
  stack: { postgresMaxConnections: MAX_CONNECTIONS },
  async run(ctx) {
    const logDir = logDirOf(ctx);
    const pgLog = logDir ? path.join(logDir, 'postgres.log') : undefined;
    const pgLogFrom = pgLog ? await fileSize(pgLog) : 0;
    const workers: DrillWorker[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await ctx.spawnWorker());

    const inputs: Array<{ file: string; expected: ExpectedOutcome }> = [];
    for (let i = 0; i < BATCHES; i++) {
      inputs.push(await ctx.generate(`batch-${i + 1}`, { records: RECORDS, seed: 41 + i }));
    }
    const config = ctx.config({ max_chunk_size: 200, max_concurrent_chunks: 4 });

    // Take most of the server's connections and keep them idle while the batches run.
    const held: pg.Client[] = [];
    for (let i = 0; i < HELD; i++) {
      const c = new pg.Client({ connectionString: ctx.stack.databaseUrl, application_name: 'sluice-drill-hog' });
      c.on('error', () => undefined);
      try {
        await c.connect();
        held.push(c);
      } catch {
        break; // the server is full already
      }
    }
    const release = async () => {
      for (const c of held.splice(0)) await c.end().catch(() => undefined);
    };

    // How many connections the server holds while the batches run.
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          const { rows } = await ctx.db.query<{ n: number }>(CLIENT_BACKENDS);
          peak = Math.max(peak, rows[0]?.n ?? 0);
        } catch {
          // the drill's own pool may be refused too: that is the point
        }
        await sleep(500);
      }
    })();

    const started = Date.now();
    let submitted: Awaited<ReturnType<typeof ctx.client.submitBatch>>[];
    let reports: PromiseSettledResult<BatchReport>[];
    try {
      submitted = await Promise.all(
        inputs.map((input) => ctx.client.submitBatch({ file: input.file, profile: 'inventory', config })),
      );
      ctx.log(`${BATCHES} batches submitted in ${Date.now() - started} ms with ${held.length} connections held`);
      reports = await Promise.allSettled(submitted.map((b) => b.settled()));
    } finally {
      sampling = false;
      await sampler;
      await release();
    }
    const elapsed = Date.now() - started;
    ctx.log(`all batches settled in ${(elapsed / 1000).toFixed(1)} s; peak ${peak} client connections`);

    // Idle worker connections go after 30 s; the invariant checks need a few of their own.
    await waitFor(
      'free connections for the checks',
      async () => {
        const { rows } = await ctx.db.query<{ n: number }>(CLIENT_BACKENDS);
        return (rows[0]?.n ?? MAX_CONNECTIONS) <= MAX_CONNECTIONS - 6 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    ).catch(() => ctx.log('connections still scarce; checking anyway'));

    const refusals = pgLog ? await logLines(pgLog, pgLogFrom, /too many clients/i) : [];
    const failed: string[] = [];
    const wrong: string[] = [];
    reports.forEach((r, i) => {
      const id = submitted[i]!.batchId;
      if (r.status === 'rejected') {
        failed.push(`${id}: ${(r.reason as Error).message}`);
        return;
      }
      const rep = r.value;
      const exp = inputs[i]!.expected;
      if (rep.status !== 'completed' && rep.status !== 'awaiting_review') {
        failed.push(`${id}: ${rep.status} ${rep.error ?? ''}`);
      } else if (
        rep.committed !== exp.committed ||
        rep.duplicates !== exp.duplicates ||
        rep.quarantined !== exp.quarantined
      ) {
        wrong.push(
          `${id}: ${rep.committed}/${rep.duplicates}/${rep.quarantined}, ` +
            `oracle ${exp.committed}/${exp.duplicates}/${exp.quarantined}`,
        );
      }
    });
    const alive = ctx.liveWorkers().map((w) => w.pid);
    const dead = workers.filter((w) => !alive.includes(w.pid));

    const checks: Check[] = [
      check(
        'every batch settled',
        failed.length === 0,
        failed.length === 0 ? `${BATCHES} settled in ${(elapsed / 1000).toFixed(1)} s` : failed.join('; '),
      ),
      check(
        'every report has the oracle counts',
        wrong.length === 0,
        wrong.length === 0 ? 'all exact' : wrong.join('; '),
      ),
      check(
        'no worker died',
        dead.length === 0,
        dead.length === 0 ? `workers ${alive.join(', ')} alive` : `dead: ${dead.map((w) => w.pid).join(', ')}`,
      ),
    ];
    return {
      batches: submitted.map((b, i) => ({ batchId: b.batchId, expected: inputs[i]!.expected })),
      // Refused connections fail activity attempts, which Temporal retries: no retry means the fault did not land.
      expectRetry: true,
      checks,
      fault:
        `max_connections=${MAX_CONNECTIONS}, ${HELD} held idle by the drill, ${WORKERS} workers with pools of 20; ` +
        `peak ${peak} client connections; ` +
        `${pgLog ? `${refusals.length} "too many clients" refusals in the PostgreSQL log` : 'PostgreSQL log not exposed'}`,
    };
  },
};
