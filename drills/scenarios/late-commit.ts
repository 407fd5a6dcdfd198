/**
 * An activity that outlives its timeout and commits late: the first commit attempt of one chunk stalls without
 * heartbeating past the commit stage's timeout, Temporal retries it, attempt 2 commits, and then attempt 1 wakes up
 * and runs its commit transaction anyway. The chunk's commit marker must turn the late commit into a no-op: nothing
 * is committed twice and the counts stay exact.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Scenario } from '../types.ts';
import type { Check } from './support.ts';
import { check } from './support.ts';
import { waitFor } from '../harness/wait.ts';

const STALLED_CHUNK = 1;
const COMMIT_TIMEOUT_S = 5;
const STALL_MS = 15_000;

interface Marker {
  pid: number;
  batchId: string;
  chunkNo: number;
  attempt: number;
  at: string;
}

async function readMarker(file: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

export const lateCommit: Scenario = {
  name: 'late-commit',
  summary:
    'attempt 1 of a chunk commit stalls past its timeout, attempt 2 commits, then attempt 1 commits late: nothing twice, counts exact',
  fast: true,
  async run(ctx) {
    const markerDir = path.join(ctx.dir, 'markers');
    // Attempt 1 of the chunk's commit sleeps (no heartbeats) for longer than the commit timeout, then commits; the
    // tiny after-commit stall only writes the `committed` marker, the evidence that attempt 1 reached the end of its
    // transaction.
    const fault = {
      stallBeforeCommitMs: STALL_MS,
      stallAfterCommitMs: 1,
      chunks: [STALLED_CHUNK],
      onlyAttempt: 1,
      markerDir,
    };
    const worker = await ctx.spawnWorker({ env: { SLUICE_DRILL_FAULT: JSON.stringify(fault) } });
    const { file, expected } = await ctx.generate('late-commit', {
      records: 2_000,
      seed: 11,
      defects: { duplicate: 0.03, invalid_date: 0.005, nonstandard_location: 0.005 },
    });
    const config = ctx.config({
      max_chunk_size: 250,
      max_concurrent_chunks: 4,
      stages: { commit: { timeout_seconds: COMMIT_TIMEOUT_S } },
    });
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config });
    ctx.log(`batch ${batch.batchId} submitted; worker ${worker.pid} stalls chunk ${STALLED_CHUNK} attempt 1`);

    const stalledFile = path.join(markerDir, `${batch.batchId}-${STALLED_CHUNK}-stalled`);
    const committedFile = path.join(markerDir, `${batch.batchId}-${STALLED_CHUNK}-committed`);
    const stalled = await waitFor('attempt 1 to stall', () => readMarker(stalledFile), { timeoutMs: 60_000 });
    ctx.log(`attempt ${stalled.attempt} of chunk ${STALLED_CHUNK} stalled at ${stalled.at} (pid ${stalled.pid})`);

    const report = await batch.settled();
    ctx.log(`batch settled: ${report.status}, ${report.committed} committed, ${report.duplicates} duplicates`);
    // Attempt 1 wakes STALL_MS after it stalled and runs its commit then; wait for the marker it writes after it.
    const late = await waitFor('attempt 1 to commit late', () => readMarker(committedFile), {
      timeoutMs: STALL_MS + 60_000,
    });
    ctx.log(`attempt ${late.attempt} of chunk ${STALLED_CHUNK} finished its commit at ${late.at}`);

    const { rows } = await ctx.db.query<{ committed_at: Date | null; counts: unknown }>(
      'SELECT committed_at, counts FROM batch_chunk WHERE batch_id = $1 AND chunk_no = $2',
      [batch.batchId, STALLED_CHUNK],
    );
    const marker = rows[0];
    const markerAt = marker?.committed_at ? marker.committed_at.getTime() : NaN;
    const stalledAt = Date.parse(stalled.at);
    const lateAt = Date.parse(late.at);

    const checks: Check[] = [
      check(
        'attempt 1 stalled past the timeout',
        stalled.attempt === 1 && stalled.pid === worker.pid,
        `stalled marker: attempt ${stalled.attempt}, pid ${stalled.pid} (worker ${worker.pid}), at ${stalled.at}`,
      ),
      check(
        'the chunk was committed by a later attempt before attempt 1 woke',
        Number.isFinite(markerAt) && markerAt - stalledAt >= COMMIT_TIMEOUT_S * 1000 && markerAt < lateAt,
        `chunk ${STALLED_CHUNK} committed_at ${marker?.committed_at?.toISOString() ?? 'null'}: ` +
          `${Math.round(markerAt - stalledAt)} ms after attempt 1 stalled, ${Math.round(lateAt - markerAt)} ms before attempt 1 finished`,
      ),
      check(
        'attempt 1 ran its commit late',
        late.attempt === 1 && lateAt - stalledAt >= STALL_MS,
        `committed marker: attempt ${late.attempt}, ${Math.round(lateAt - stalledAt)} ms after the stall began ` +
          `(stall ${STALL_MS} ms, commit timeout ${COMMIT_TIMEOUT_S} s)`,
      ),
      check(
        'the batch reports the oracle counts',
        report.records === expected.records &&
          report.committed === expected.committed &&
          report.duplicates === expected.duplicates &&
          report.quarantined === expected.quarantined,
        `report ${report.committed}/${report.duplicates}/${report.quarantined} of ${report.records}, ` +
          `oracle ${expected.committed}/${expected.duplicates}/${expected.quarantined} of ${expected.records} ` +
          '(committed/duplicates/quarantined)',
      ),
    ];
    return {
      batches: [{ batchId: batch.batchId, expected }],
      expectRetry: true,
      checks,
      fault:
        `worker ${worker.pid}: chunk ${STALLED_CHUNK} commit attempt 1 slept ${STALL_MS} ms without heartbeats ` +
        `(timeout ${COMMIT_TIMEOUT_S} s) from ${stalled.at}, finished its commit at ${late.at}`,
    };
  },
};
