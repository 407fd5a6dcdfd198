/**
 * End to end on the real stack (Temporal dev server + PostgreSQL): a generated manifest with planted defects reaches
 * exactly the generator's counts; resubmission commits nothing; review decisions sent as the Web UI sends them
 * (`temporal workflow signal`) commit or reject held records; a malformed decision leaves the batch running; and no
 * payload in any history of these runs exceeds 8 KB.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExpectedOutcome } from '../../src/profiles/inventory/generator.ts';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import { resolveTemporalCli } from '../../src/stack/temporal-cli.ts';
import { WORKFLOWS_PATH } from '../../src/workers/worker.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { batchHistories, largestPayload } from '../helpers/history.ts';
import {
  checkInvariants,
  expectAuditConsistent,
  runCli,
  testConfig,
  testEnv,
  useSluiceTest,
} from '../helpers/sluice-env.ts';

const t = useSluiceTest('lifecycle');

const exec = promisify(execFile);

/** Sends a signal exactly as the Web UI's "Send a Signal" dialog does: a JSON input to the named signal. */
async function signalLikeTheUi(workflowId: string, input: string): Promise<void> {
  const temporal = await resolveTemporalCli({ install: false });
  await exec(temporal, [
    'workflow',
    'signal',
    '--address',
    testEnv().temporalAddress,
    '--workflow-id',
    workflowId,
    '--name',
    'review',
    '--input',
    input,
  ]);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('a 10,000-record manifest with planted defects', () => {
  let file: string;
  let expected: ExpectedOutcome;
  let report: BatchReport;

  beforeAll(async () => {
    file = path.join(t.dir, 'manifest-10k.csv');
    expected = await generateInventoryManifest(file, {
      records: 10_000,
      seed: 42,
      defects: {
        invalid_grant_code: 0.01,
        invalid_quantity: 0.01,
        invalid_date: 0.005,
        missing_field: 0.005,
        nonstandard_location: 0.01,
        quantity_outlier: 0.005,
        duplicate: 0.02,
      },
    });
  });

  it('submit --wait --json reports exactly the expected counts', async () => {
    // The CLI as a user runs it, with a config file of 750-record chunks (seed 000's default) for many chunks.
    const config = path.join(t.dir, 'chunks-750.yaml');
    await writeFile(config, 'batch_config:\n  max_chunk_size: 750\n  max_concurrent_chunks: 4\n');
    const res = await runCli(['submit', file, '--profile', 'inventory', '--config', config, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    report = JSON.parse(res.stdout);
    expect(report).toMatchObject({
      profile: 'inventory',
      status: 'awaiting_review',
      records: expected.records,
      committed: expected.committed,
      duplicates: expected.duplicates,
      quarantined: expected.quarantined,
      pendingReview: expected.quarantined,
      approved: 0,
      rejected: 0,
      chunks: Math.ceil(10_000 / 750),
    });
    expect(report.batchId).toMatch(/^inventory-[0-9a-f]{16}$/);
    expect(report.workflowId).toBe(`sluice-batch-${report.batchId}`);
    expect(report.records).toBe(report.committed + report.duplicates + report.rejected + report.pendingReview);
    await checkInvariants(t.db, report.batchId, expected.records);

    const byReason = await t.db.query<{ reason_code: string; n: number }>(
      `SELECT reason_code, count(*)::int AS n FROM record_disposition
        WHERE batch_id = $1 AND held GROUP BY 1`,
      [report.batchId],
    );
    expect(Object.fromEntries(byReason.rows.map((r) => [r.reason_code, r.n]))).toEqual(expected.byReason);
  });

  it('submitting the same file again returns the same batch and commits nothing', async () => {
    const ledgerBefore = await t.db.query('SELECT count(*)::int AS n FROM ledger');
    const res = await runCli(['submit', file, '--profile', 'inventory', '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toContain('was submitted before');
    const again: BatchReport = JSON.parse(res.stdout);
    expect(again.batchId).toBe(report.batchId);
    expect(again.committed).toBe(report.committed);
    const ledgerAfter = await t.db.query('SELECT count(*)::int AS n FROM ledger');
    expect(ledgerAfter.rows[0].n).toBe(ledgerBefore.rows[0].n);
    const runs = await t.sluice.temporal.workflow.count(`WorkflowId = "${report.workflowId}"`);
    expect(runs.count).toBe(1);
  });

  it('a malformed decision is refused and recorded, and the batch keeps running', async () => {
    await signalLikeTheUi(report.workflowId, '{"decisionId":"bad-1","action":"approve","reviewer":"ops"}'); // no selector
    await signalLikeTheUi(report.workflowId, '"not a decision"');
    const progress = await waitFor('two refused decisions', async () => {
      const p = await t.sluice.progress(report.batchId);
      return p.rejectedDecisions.length >= 2 ? p : undefined;
    });
    expect(progress.status).toBe('awaiting_review');
    expect(progress.rejectedDecisions[0]).toMatchObject({ decisionId: 'bad-1' });
    expect(progress.rejectedDecisions[0]!.error).toMatch(/exactly one of records, reasonCode, errorSignature or all/);
    const audit = await t.db.query(
      `SELECT count(*)::int AS n FROM audit_event WHERE batch_id = $1 AND event = 'decision_rejected'`,
      [report.batchId],
    );
    expect(audit.rows[0].n).toBe(2);
    const desc = await t.sluice.temporal.workflow.getHandle(report.workflowId).describe();
    expect(desc.status.name).toBe('RUNNING');
  });

  it('review list finds the batch, and review show lists held records with their field-level issues', async () => {
    const list = await runCli(['review', 'list', '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toContainEqual(
      expect.objectContaining({ batchId: report.batchId, profile: 'inventory', pendingReview: expected.quarantined }),
    );
    const show = await runCli(['review', 'show', report.batchId, '--reason-code', 'invalid_quantity', '--json']);
    expect(show.code, show.stderr).toBe(0);
    const view = JSON.parse(show.stdout);
    expect(view.pendingReview).toBe(expected.quarantined);
    expect(view.records.length).toBe(Math.min(50, expected.byReason.invalid_quantity ?? 0));
    const first = view.records[0];
    expect(first).toMatchObject({ reasonCode: 'invalid_quantity', location: { file: 'manifest-10k.csv' } });
    expect(first.location.line).toBeGreaterThan(1);
    expect(first.issues[0]).toMatchObject({ path: 'quantity' });
    expect(first.issues[0].value).toBe(first.source.quantity);
  });

  it('an approve decision sent like the Web UI commits the held records; repeating it changes nothing', async () => {
    const approve = JSON.stringify({
      decisionId: 'approve-outliers-1',
      reasonCode: 'quantity_outlier',
      action: 'approve',
      reviewer: 'dana',
      note: 'checked against the purchase orders',
    });
    await signalLikeTheUi(report.workflowId, approve);
    await signalLikeTheUi(report.workflowId, approve);
    const outliers = expected.byReason.quantity_outlier ?? 0;
    expect(outliers).toBeGreaterThan(0);
    const after = await waitFor('the approval to be applied', async () => {
      const r = await t.sluice.getBatchStatus(report.batchId);
      return r.approved === outliers ? r : undefined;
    });
    expect(after.committed).toBe(expected.committed + outliers);
    expect(after.pendingReview).toBe(expected.quarantined - outliers);
    const approved = await t.db.query(
      `SELECT count(*)::int AS n FROM record_disposition d JOIN ledger l ON l.batch_id = d.batch_id AND l.record_no = d.record_no
        WHERE d.batch_id = $1 AND d.status = 'approved' AND d.decided_by = 'dana'`,
      [report.batchId],
    );
    expect(approved.rows[0].n).toBe(outliers);
    const decisions = await t.db.query(`SELECT count(*)::int AS n FROM review_decision WHERE batch_id = $1`, [
      report.batchId,
    ]);
    expect(decisions.rows[0].n).toBe(1);
  });

  it('an amend decision patches, re-validates and commits; records still invalid stay held', async () => {
    const outcome = await t.sluice.decide(report.batchId, {
      decisionId: 'amend-locations-1',
      reasonCode: 'nonstandard_location',
      action: 'amend',
      patch: { location: 'CHEM-101' },
      reviewer: 'dana',
      note: 'moved to the chemistry store',
    });
    expect(outcome.applied).toBe(true);
    expect(outcome.selected).toBe(expected.byReason.nonstandard_location);
    expect(outcome.approved + outcome.duplicates).toBe(outcome.selected);
    expect(outcome.stillHeld).toBe(0);
    // The same decision again (a client retrying its call) changes nothing, and says so.
    const again = await t.sluice.decide(report.batchId, {
      decisionId: 'amend-locations-1',
      reasonCode: 'nonstandard_location',
      action: 'amend',
      patch: { location: 'CHEM-101' },
      reviewer: 'dana',
    });
    expect(again).toMatchObject({ decisionId: 'amend-locations-1', applied: false, selected: 0, approved: 0 });

    // A patch that does not fix the problem leaves the record held, with the new issues.
    const [firstBadGrant] = (
      await t.db.query(
        `SELECT record_no::int AS n FROM record_disposition WHERE batch_id = $1 AND reason_code = 'invalid_grant_code' ORDER BY 1 LIMIT 1`,
        [report.batchId],
      )
    ).rows;
    const stillBad = await t.sluice.decide(report.batchId, {
      decisionId: 'amend-grant-wrong',
      records: [firstBadGrant.n],
      action: 'amend',
      patch: { grant_code: 'XYZ-1' },
      reviewer: 'dana',
    });
    expect(stillBad).toMatchObject({ selected: 1, approved: 0, stillHeld: 1 });
  });

  it('the pendingReview query pages held records by reason and error signature; a bulk decision by signature', async () => {
    const view = await t.sluice.pendingReview(report.batchId);
    const pending = (await t.sluice.progress(report.batchId)).counts.pendingReview;
    expect(view.pendingReview).toBe(pending);
    expect(view.records).toHaveLength(10);
    expect(view.records[0]!.issues.length).toBeGreaterThan(0);
    expect(view.groups.reduce((n, g) => n + g.count, 0)).toBeLessThanOrEqual(pending);
    const group = view.groups.find((g) => g.reasonCode === 'invalid_quantity')!;
    expect(group.errorSignature).toMatch(/^quantity:[a-z_]+$/);
    expect(group.approvable).toBe(false);

    const outcome = await t.sluice.decide(report.batchId, {
      decisionId: 'reject-by-signature-1',
      errorSignature: group.errorSignature,
      action: 'reject',
      reviewer: 'dana',
      note: 'quantities not in the source',
    });
    expect(outcome).toMatchObject({ applied: true, selected: group.count, rejected: group.count });
    const after = await t.sluice.pendingReview(report.batchId);
    expect(after.groups.find((g) => g.errorSignature === group.errorSignature)).toBeUndefined();
  });

  it('rejecting the rest completes the batch with every record accounted for', async () => {
    const res = await runCli([
      'review',
      'decide',
      report.batchId,
      '--all',
      '--reject',
      '--reviewer',
      'dana',
      '--note',
      'bad source rows',
      '--json',
    ]);
    expect(res.code, res.stderr).toBe(0);
    const final = await t.sluice.temporal.workflow.getHandle(report.workflowId).result();
    expect(final.status).toBe('completed');
    expect(final.pendingReview).toBe(0);
    expect(final.records).toBe(final.committed + final.duplicates + final.rejected + final.pendingReview);
    await checkInvariants(t.db, report.batchId, expected.records);
    const audit = await expectAuditConsistent(report.batchId);
    expect(audit.ledgerHash).toBe(final.ledgerHash);

    const status = await runCli(['status', report.batchId, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(final);
  });

  it('no payload in any history of the batch exceeds 8 KB, and every history replays', async () => {
    const histories = await batchHistories(t.sluice.temporal, report.workflowId, report.chunks);
    expect(histories.length).toBeGreaterThan(report.chunks);
    for (const { workflowId, history } of histories) {
      const largest = largestPayload(history);
      expect(largest.bytes, `${workflowId} event ${largest.eventId} (${largest.eventType})`).toBeLessThanOrEqual(
        8 * 1024,
      );
    }
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: WORKFLOWS_PATH }, histories)) {
      expect(result.error, result.workflowId).toBeUndefined();
      replayed += 1;
    }
    expect(replayed).toBe(histories.length);
  });
});

describe('a batch with nothing to review', () => {
  it('completes, and the workflow result is the report', async () => {
    const file = path.join(t.dir, 'clean.csv');
    const expected = await generateInventoryManifest(file, { records: 1_200, seed: 7 });
    const submitted = await t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig() });
    expect(submitted.started).toBe(true);
    const report = await submitted.settled();
    expect(await submitted.result()).toEqual(report);
    expect(report).toMatchObject({ status: 'completed', records: 1_200, committed: expected.committed, chunks: 3 });
    expect(report.finishedAt).not.toBeNull();
    await checkInvariants(t.db, submitted.batchId, 1_200);
    await expectAuditConsistent(submitted.batchId);
  });
});

describe('the same bytes submitted ten times at once', () => {
  it('start one batch: exactly one submission says it started it, the others get the same batch', async () => {
    const file = path.join(t.dir, 'racing.csv');
    await generateInventoryManifest(file, { records: 300, seed: 7103 }); // a seed no other file uses: keys are global
    const submissions = await Promise.all(
      Array.from({ length: 10 }, () => t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig() })),
    );
    expect(new Set(submissions.map((s) => s.batchId)).size).toBe(1);
    expect(submissions.filter((s) => s.started)).toHaveLength(1);
    const report = await submissions[0]!.settled();
    expect(report.records).toBe(300);
    await checkInvariants(t.db, report.batchId, 300);
  });
});

describe('an input that cannot be read', () => {
  it('fails the batch with an error naming the file and line, and submit --wait exits 1', async () => {
    const file = path.join(t.dir, 'broken.csv');
    await writeFile(
      file,
      'asset_id,grant_code,category,quantity,location,acquisition_date\n' +
        'CH-1,NIH-1,Reagent,3,CHEM-101,2024-01-02\n' +
        'CH-2,NIH-2,"Centrifuge, refrigerated,3,CHEM-101,2024-01-02\n',
    );
    const res = await runCli(['submit', file, '--profile', 'inventory', '--wait', '--json']);
    expect(res.code).toBe(1);
    const report: BatchReport = JSON.parse(res.stdout);
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/broken\.csv.*line 3/);
    expect(report.error).toMatch(/quote/i);
    const status = await runCli(['status', report.batchId]);
    expect(status.code).toBe(1);
    expect(status.stdout).toContain('error');
  });
});
