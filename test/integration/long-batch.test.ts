/**
 * Long batches: a batch of many chunks continues as new several times (the test server suggests it after 300 events)
 * and still accounts for every record exactly once; a review that nobody finishes ends at its deadline with the
 * pending records rejected as `review_timeout`.
 */
import path from 'node:path';
import { expect, it } from 'vitest';
import { WorkflowUpdateStage } from '@temporalio/client';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import { reviewUpdate } from '../../src/workflows/messages.ts';
import { batchHistories, largestPayload } from '../helpers/history.ts';
import type { BatchProgress } from '../../src/shared/contracts.ts';
import { SluiceStatus } from '../../src/shared/search-attributes.ts';
import { checkInvariants, expectAuditConsistent, runCli, testConfig, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('long');

it('a batch of 150 chunks continues as new several times and loses nothing', async () => {
  const file = path.join(t.dir, 'many-chunks.csv');
  const expected = await generateInventoryManifest(file, {
    records: 15_000,
    seed: 99,
    defects: { invalid_date: 0.01, duplicate: 0.03 },
  });
  const submitted = await t.sluice.submitBatch({
    file,
    profile: 'inventory',
    config: testConfig({ max_chunk_size: 100, max_concurrent_chunks: 8 }),
  });
  const report = await t.sluice.settled(submitted.batchId);
  expect(report).toMatchObject({
    status: 'awaiting_review',
    chunks: 150,
    records: expected.records,
    committed: expected.committed,
    duplicates: expected.duplicates,
    quarantined: expected.quarantined,
  });
  await checkInvariants(t.db, submitted.batchId, expected.records);
  await expectAuditConsistent(submitted.batchId);

  const runs = await t.sluice.temporal.workflow.count(`WorkflowId = "${submitted.workflowId}"`);
  expect(runs.count).toBeGreaterThanOrEqual(3);
  for (const { workflowId, history } of await batchHistories(t.sluice.temporal, submitted.workflowId, 0)) {
    expect(largestPayload(history).bytes, workflowId).toBeLessThanOrEqual(8 * 1024);
  }
});

it('held records still pending at the review deadline are rejected as review_timeout', async () => {
  const file = path.join(t.dir, 'deadline.csv');
  const expected = await generateInventoryManifest(file, {
    records: 800,
    seed: 5,
    defects: { quantity_outlier: 0.02, invalid_grant_code: 0.02 },
  });
  const submitted = await t.sluice.submitBatch({
    file,
    profile: 'inventory',
    config: testConfig({ review_deadline_seconds: 3 }),
  });
  const settled = await t.sluice.settled(submitted.batchId);
  expect(settled.status).toBe('awaiting_review');
  const final = await t.sluice.temporal.workflow.getHandle(submitted.workflowId).result();
  expect(final).toMatchObject({
    status: 'completed',
    committed: expected.committed,
    rejected: expected.quarantined,
    pendingReview: 0,
  });
  const timedOut = await t.db.query(
    `SELECT count(*)::int AS n FROM record_disposition WHERE batch_id = $1 AND status = 'rejected' AND reason_code = 'review_timeout'`,
    [submitted.batchId],
  );
  expect(timedOut.rows[0].n).toBe(expected.quarantined);
  await expectAuditConsistent(submitted.batchId);
});

it('an update before review starts is refused; an update left queued when the review empties is answered', async () => {
  const file = path.join(t.dir, 'updates.csv');
  const expected = await generateInventoryManifest(file, {
    records: 6000,
    seed: 8,
    defects: { quantity_outlier: 0.01, invalid_date: 0.01 },
  });
  const batch = await t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig({ max_chunk_size: 200 }) });
  await expect(
    t.sluice.decide(batch.batchId, { decisionId: 'too-early', all: true, action: 'reject', reviewer: 'eve' }),
  ).rejects.toThrow(/not awaiting review/);
  expect((await batch.settled()).status).toBe('awaiting_review');

  // The rejection is accepted first and leaves nothing pending, so the approval queued behind it finds nothing
  // to act on; either way both updates are answered and the batch completes.
  const handle = t.sluice.temporal.workflow.getHandle(batch.workflowId);
  const rejectAll = await handle.startUpdate(reviewUpdate, {
    args: [{ decisionId: 'reject-all', all: true, action: 'reject', reviewer: 'eve' }],
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  const late = await t.sluice.decide(batch.batchId, {
    decisionId: 'late',
    reasonCode: 'quantity_outlier',
    action: 'approve',
    reviewer: 'eve',
  });
  const rejected = await rejectAll.result();
  expect(rejected.applied).toBe(true);
  if (!late.applied) expect(late.approved).toBe(0);
  const final = await batch.result();
  expect(final).toMatchObject({ status: 'completed', pendingReview: 0, approved: late.approved });
  expect(final.committed).toBe(expected.committed + late.approved);
  expect(final.rejected + final.approved).toBe(expected.quarantined);
  await expectAuditConsistent(batch.batchId);
});

it('an operator pauses a batch: in-flight chunks finish, no new one starts until it resumes', async () => {
  const file = path.join(t.dir, 'paused.csv');
  const expected = await generateInventoryManifest(file, { records: 20_000, seed: 21, defects: { duplicate: 0.01 } });
  const batch = await t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig({ max_chunk_size: 100 }) });
  const poll = async (until: (p: BatchProgress) => boolean): Promise<BatchProgress> => {
    for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      const p = await t.sluice.progress(batch.batchId).catch(() => null);
      if (p && until(p)) return p;
    }
    throw new Error('timed out waiting for the batch');
  };
  await poll((p) => p.chunksDone >= 3);
  const pause = await runCli(['pause', batch.batchId, '--operator', 'olga', '--reason', 'ledger maintenance']);
  expect(pause.code, pause.stderr).toBe(0);
  const atPause = await poll((p) => p.status === 'paused' && p.chunksInFlight === 0);
  expect(atPause.chunksDone).toBeLessThan(atPause.chunks);
  await new Promise((r) => setTimeout(r, 3000));
  const later = await t.sluice.progress(batch.batchId);
  expect(later).toMatchObject({ status: 'paused', chunksDone: atPause.chunksDone, chunksInFlight: 0 });
  const desc = await t.sluice.temporal.workflow.getHandle(batch.workflowId).describe();
  expect(desc.typedSearchAttributes.get(SluiceStatus)).toBe('paused');

  const resume = await runCli(['resume', batch.batchId, '--operator', 'olga']);
  expect(resume.code, resume.stderr).toBe(0);
  const report = await batch.settled();
  expect(report).toMatchObject({
    records: expected.records,
    committed: expected.committed,
    duplicates: expected.duplicates,
  });
  await expectAuditConsistent(batch.batchId);
});
