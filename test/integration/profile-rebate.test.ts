/**
 * The rebate profile end to end on the real stack (Temporal dev server + PostgreSQL), through the CLI as a user runs
 * it: the promotion master imported with `sluice reference import`, a generated claim file in each format submitted
 * in small chunks, and the report, the held lines by reason, the ledger's amounts and accruals equal to the
 * generator's oracle; classification ran as a regular activity on the compute queue and commits on the commit
 * queue; a claim file resubmitted in the other format commits nothing twice.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatCents, toCents } from '../../src/profiles/rebate/accrual.ts';
import { assessClaim } from '../../src/profiles/rebate/classify.ts';
import { generateRebateClaims, writePromotionMaster } from '../../src/profiles/rebate/generator.ts';
import type { RebateExpectedOutcome, RebateFormat } from '../../src/profiles/rebate/generator.ts';
import { readPromotionMaster, toPromotion } from '../../src/profiles/rebate/reference.ts';
import type { Promotion } from '../../src/profiles/rebate/reference.ts';
import type { RebateClaimLine } from '../../src/profiles/rebate/schema.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { batchHistories } from '../helpers/history.ts';
import { checkInvariants, expectAuditConsistent, runCli, useSluiceTest, heldByReason } from '../helpers/sluice-env.ts';

const t = useSluiceTest('profile-rebate');

const DEFECTS = {
  unknown_promotion: 0.02,
  outside_promotion_window: 0.02,
  ineligible_sku: 0.02,
  over_claim: 0.02,
  invalid_quantity: 0.015,
  invalid_amount: 0.015,
  duplicate: 0.03,
};

let config: string;
let promotions: Map<string, Promotion>;

beforeAll(async () => {
  const { promotions: master } = await writePromotionMaster(path.join(t.dir, 'claims'));
  const res = await runCli(['reference', 'import', 'promotions', master, '--json']);
  expect(res.code, res.stderr).toBe(0);
  expect(JSON.parse(res.stdout)).toMatchObject({ kind: 'promotions', entries: 12 });
  promotions = new Map();
  for await (const e of readPromotionMaster(master, 'm.csv')) promotions.set(e.key, toPromotion(e.key, e.data));
  config = path.join(t.dir, 'small-chunks.yaml');
  await writeFile(config, 'batch_config:\n  max_chunk_size: 100\n  max_concurrent_chunks: 4\n');
});

async function submit(file: string): Promise<BatchReport> {
  const res = await runCli(['submit', file, '--profile', 'rebate', '--config', config, '--wait', '--json']);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as BatchReport;
}

/** The committed lines' amounts, and their accruals recomputed from the ledger payloads and the promotion master. */
async function ledgerTotals(batchId: string): Promise<{ amount: string; accrual: string; rows: number }> {
  const { rows } = await t.db.query<{ payload: RebateClaimLine }>('SELECT payload FROM ledger WHERE batch_id = $1', [
    batchId,
  ]);
  let amount = 0n;
  let accrual = 0n;
  for (const { payload } of rows) {
    amount += toCents(payload.amount)!;
    const assessed = assessClaim(payload, promotions.get(payload.promotion_id));
    if (assessed.hold) throw new Error(`committed line ${JSON.stringify(payload)} is held by the master`);
    accrual += assessed.accrual.cents;
  }
  return { amount: formatCents(amount), accrual: formatCents(accrual), rows: rows.length };
}

function expectOracle(report: BatchReport, expected: RebateExpectedOutcome): void {
  expect(report).toMatchObject({
    profile: 'rebate',
    status: expected.quarantined > 0 ? 'awaiting_review' : 'completed',
    records: expected.records,
    committed: expected.committed,
    duplicates: expected.duplicates,
    quarantined: expected.quarantined,
    pendingReview: expected.quarantined,
    approved: 0,
    rejected: 0,
    chunks: Math.ceil(expected.records / 100),
  });
}

describe.each([
  ['csv', 1500, 2101],
  ['xlsx', 1000, 2102],
] as const)('a %s claim file of %i lines', (format: RebateFormat, records: number, seed: number) => {
  let expected: RebateExpectedOutcome;
  let report: BatchReport;

  it('reaches exactly the oracle: counts, held lines by reason, amounts and accruals; the audit is clean', async () => {
    const file = path.join(t.dir, `claims-${seed}.${format}`);
    expected = await generateRebateClaims(file, { records, seed, defects: DEFECTS, format });
    report = await submit(file);
    expectOracle(report, expected);
    expect(await heldByReason(t.db, report.batchId)).toEqual(expected.byReason);
    await checkInvariants(t.db, report.batchId, expected.records);
    expect(await ledgerTotals(report.batchId)).toEqual({
      amount: expected.committedSum!.value,
      accrual: expected.committedAccrual,
      rows: expected.committed,
    });
    // A held line names where it is: a CSV line, or a sheet row.
    const held = await t.db.query<{ location: { line?: number; position?: string } }>(
      'SELECT location FROM record_disposition WHERE batch_id = $1 AND held ORDER BY record_no LIMIT 1',
      [report.batchId],
    );
    if (format === 'csv') expect(held.rows[0]!.location.line).toBeGreaterThan(1);
    else expect(held.rows[0]!.location.position).toMatch(/^sheet "Claims" row \d+$/);
    await expectAuditConsistent(report.batchId);
  });

  it('classified on the compute queue and committed on the commit queue, as regular activities', async () => {
    const histories = await batchHistories(t.sluice.temporal, report.workflowId, report.chunks);
    const chunks = histories.filter((h) => h.workflowId.includes('/chunk-'));
    expect(chunks).toHaveLength(report.chunks);
    for (const { workflowId, history } of chunks) {
      const scheduled = (history.events ?? []).flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        return a ? [`${a.activityType?.name}@${a.taskQueue?.name}`] : [];
      });
      expect(scheduled, workflowId).toEqual(['classifyChunk@sluice-compute', 'commitChunk@sluice-commit']);
      // Parse and validate stay local activities of the chunk workflow's worker: the fast path.
      const markers = (history.events ?? []).filter((e) => e.markerRecordedEventAttributes).length;
      expect(markers, workflowId).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('the same claim lines in the other format', () => {
  it('are duplicates: the idempotency key does not depend on the file or its format', async () => {
    const csv = path.join(t.dir, 'twins-2103.csv');
    const xlsx = path.join(t.dir, 'twins-2103.xlsx');
    const expected = await generateRebateClaims(csv, { records: 300, seed: 2103, defects: DEFECTS });
    await generateRebateClaims(xlsx, { records: 300, seed: 2103, defects: DEFECTS, format: 'xlsx' });
    const first = await submit(csv);
    expectOracle(first, expected);
    const ledgerBefore = await t.db.query('SELECT count(*)::int AS n FROM ledger');
    const second = await submit(xlsx);
    expect(second.batchId).not.toBe(first.batchId);
    expect(second).toMatchObject({
      records: expected.records,
      committed: 0,
      duplicates: expected.committed + expected.duplicates,
      quarantined: expected.quarantined,
    });
    expect(await heldByReason(t.db, second.batchId)).toEqual(expected.byReason);
    const ledgerAfter = await t.db.query('SELECT count(*)::int AS n FROM ledger');
    expect(ledgerAfter.rows[0].n).toBe(ledgerBefore.rows[0].n);
    await checkInvariants(t.db, second.batchId, expected.records);
    await expectAuditConsistent(second.batchId);
  });
});
