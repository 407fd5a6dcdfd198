/**
 * A worker killed with SIGKILL in the middle of a batch, then restarted, loses and duplicates nothing: the batch
 * reaches exactly the generator's counts and every record has exactly one disposition.
 */
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import {
  checkInvariants,
  runCli,
  expectAuditConsistent,
  spawnWorkerProcess,
  testConfig,
  useSluiceTest,
} from '../helpers/sluice-env.ts';

const t = useSluiceTest('crash', { worker: false });

const workers: ChildProcess[] = [];

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
});

const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));

it('a worker SIGKILLed mid-batch and restarted loses and duplicates nothing', async () => {
  const file = path.join(t.dir, 'manifest-60k.csv');
  const expected = await generateInventoryManifest(file, {
    records: 60_000,
    seed: 1234,
    defects: { invalid_grant_code: 0.01, quantity_outlier: 0.005, duplicate: 0.02 },
  });
  const first = spawnWorkerProcess();
  workers.push(first);
  const submitted = await t.sluice.submitBatch({
    file,
    profile: 'inventory',
    config: testConfig({ max_chunk_size: 1000, max_concurrent_chunks: 4, timeout_seconds: 10 }),
  });

  // Kill the worker once some chunks, but not all, have committed.
  const killedAt = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(async () => {
      try {
        const p = await t.sluice.progress(submitted.batchId);
        if (p.chunksDone >= 5) {
          clearInterval(timer);
          first.kill('SIGKILL');
          resolve(p.chunksDone);
        }
      } catch {
        // not started yet
      }
    }, 100);
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error('the batch made no progress within 90 s'));
    }, 90_000);
  });
  await exited(first);
  const atKill = await t.sluice.progress(submitted.batchId).catch(() => null);
  expect(killedAt).toBeLessThan(60);
  expect(atKill === null || atKill.chunksDone < atKill.chunks).toBe(true);

  const second = spawnWorkerProcess();
  workers.push(second);
  const report = await t.sluice.settled(submitted.batchId);
  expect(report).toMatchObject({
    status: 'awaiting_review',
    records: expected.records,
    committed: expected.committed,
    duplicates: expected.duplicates,
    quarantined: expected.quarantined,
  });
  await checkInvariants(t.db, submitted.batchId, expected.records);
  await expectAuditConsistent(submitted.batchId);
  second.kill('SIGTERM');
  await exited(second);
});

it('with no worker running, status says so instead of hanging, and the batch runs once a worker starts', async () => {
  const file = path.join(t.dir, 'no-worker.csv');
  const expected = await generateInventoryManifest(file, { records: 500, seed: 3 });
  const batch = await t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig() });
  const started = Date.now();
  const status = await runCli(['status', batch.batchId]);
  expect(status.code).toBe(1);
  expect(status.stderr).toMatch(/no worker answered its progress query.*sluice worker/);
  expect(Date.now() - started).toBeLessThan(30_000);

  const worker = spawnWorkerProcess();
  workers.push(worker);
  const report = await batch.settled();
  expect(report).toMatchObject({ status: 'completed', records: 500, committed: expected.committed });
  worker.kill('SIGTERM');
  await exited(worker);
});
