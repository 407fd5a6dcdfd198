/**
 * `sluice audit` on a batch with commits, duplicates, approvals, amendments and rejections: complete and consistent;
 * after a ledger row is tampered with, it fails and says which record.
 */
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import type { ExpectedOutcome } from '../../src/profiles/inventory/generator.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { runCli, testConfig, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('audit');

let expected: ExpectedOutcome;
let final: BatchReport;

beforeAll(async () => {
  const file = path.join(t.dir, 'audited.csv');
  expected = await generateInventoryManifest(file, {
    records: 3000,
    seed: 77,
    defects: { duplicate: 0.02, quantity_outlier: 0.01, nonstandard_location: 0.01, invalid_grant_code: 0.01 },
  });
  // A valid record whose asset id a spreadsheet would run as a formula: stored verbatim, exported safely.
  await appendFile(file, '=HYPERLINK("http://evil.example"),NIH-FORMULA-1,Reagent,5,CHEM-101,2024-01-01\n');
  const batch = await t.sluice.submitBatch({ file, profile: 'inventory', config: testConfig() });
  const settled = await batch.settled();
  expect(settled.status).toBe('awaiting_review');
  await t.sluice.decide(batch.batchId, {
    decisionId: 'a-approve',
    reasonCode: 'quantity_outlier',
    action: 'approve',
    reviewer: 'ann',
    note: 'checked',
  });
  await t.sluice.decide(batch.batchId, {
    decisionId: 'a-amend',
    reasonCode: 'nonstandard_location',
    action: 'amend',
    patch: { location: 'BIO-2B' },
    reviewer: 'ann',
  });
  await t.sluice.decide(batch.batchId, {
    decisionId: 'a-reject',
    all: true,
    action: 'reject',
    reviewer: 'bob',
    note: '=cmd|x',
  });
  final = await batch.result();
  expect(final.status).toBe('completed');
});

describe('sluice audit', () => {
  it('finds a completed batch complete and consistent, and shows each record journey', async () => {
    expect(final.ledgerHash).toMatch(/^[0-9a-f]{64}$/);
    const evidence = path.join(t.dir, 'evidence.md');
    const res = await runCli(['audit', final.batchId, '--json', '--evidence', evidence]);
    expect(res.code, res.stderr).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.audit.ok).toBe(true);
    expect(doc.audit.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([
      ['input_sha256', true],
      ['one_disposition_per_record', true],
      ['ledger_matches_dispositions', true],
      ['ledger_content', true],
      ['ledger_hash', true],
      ['counts_match_history', true],
      ['decisions_in_history', true],
    ]);
    expect(doc.audit.ledgerHash).toBe(final.ledgerHash);
    expect(doc.records).toHaveLength(expected.records + 1);
    expect(doc.records.map((r: { recordNo: number }) => r.recordNo)).toEqual(
      Array.from({ length: expected.records + 1 }, (_, i) => i + 1),
    );
    const byStatus = (s: string) => doc.records.filter((r: { status: string }) => r.status === s).length;
    expect(byStatus('duplicate')).toBe(final.duplicates);
    expect(byStatus('approved')).toBe(final.approved);
    expect(byStatus('rejected')).toBe(final.rejected);
    expect(final.approved).toBeGreaterThan(0);
    expect(final.rejected).toBeGreaterThan(0);

    const amended = doc.records.find(
      (r: { decision?: { decisionId: string } }) => r.decision?.decisionId === 'a-amend',
    );
    expect(amended).toMatchObject({
      status: 'approved',
      heldReason: 'nonstandard_location',
      validation: 'valid',
      decision: { action: 'amend', reviewer: 'ann' },
    });
    expect(amended.line).toBeGreaterThan(1);
    expect(amended.parsedAt).not.toBeNull();
    expect(amended.dispositionAt).not.toBeNull();
    const rejected = doc.records.find((r: { status: string }) => r.status === 'rejected');
    expect(rejected).toMatchObject({
      validation: 'invalid',
      heldReason: 'invalid_grant_code',
      decision: { reviewer: 'bob' },
    });

    const pack = await readFile(evidence, 'utf8');
    expect(pack).toContain('Verdict: **CONSISTENT**');
    expect(pack).toContain(final.ledgerHash);
    expect(pack).toMatch(/\| a-amend \| amend \| ann \|/);
  });

  it('exports CSV that a spreadsheet will not execute', async () => {
    const res = await runCli(['audit', final.batchId, '--csv']);
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^record_no,audit_trace_id,file,/);
    expect(lines).toHaveLength(expected.records + 2);
    const formulaRow = lines.find((l) => l.includes('HYPERLINK'))!;
    expect(formulaRow).toContain(`"'=HYPERLINK(""http://evil.example"")/NIH-FORMULA-1"`);
    const noteRow = lines.find((l) => l.includes('cmd|x'))!;
    expect(noteRow).toContain("'=cmd|x");
    // Stored verbatim: the ledger keeps what the manifest said.
    // (This batch's rows only: other test files commit formula strings of their own to the shared ledger.)
    const stored = await t.db.query(
      `SELECT payload->>'asset_id' AS a FROM ledger WHERE batch_id = $1 AND business_key LIKE '=HYPERLINK%'`,
      [final.batchId],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0].a).toBe('=HYPERLINK("http://evil.example")');
  });

  it('fails, naming the record, when a ledger row has been tampered with', async () => {
    const victim = await t.db.query(
      `SELECT record_no::int AS n FROM ledger WHERE batch_id = $1 ORDER BY record_no LIMIT 1`,
      [final.batchId],
    );
    const n = victim.rows[0].n;
    await t.db.query(
      `UPDATE ledger SET payload = jsonb_set(payload, '{quantity}', '9999') WHERE batch_id = $1 AND record_no = $2`,
      [final.batchId, n],
    );
    const res = await runCli(['audit', final.batchId]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('INCONSISTENT');
    expect(res.stdout).toMatch(new RegExp(`FAIL  ledger_content: 1 problem\\(s\\): record ${n}: ledger row differs`));
    expect(res.stdout).toMatch(
      /FAIL {2}ledger_hash: 1 problem\(s\): the workflow recorded [0-9a-f]{64}, the ledger now hashes to/,
    );
  });
});
