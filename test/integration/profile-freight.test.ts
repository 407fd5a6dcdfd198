/**
 * The freight profile end to end on the real stack (Temporal dev server + PostgreSQL), once per format: a generated
 * file of carrier invoices with planted defects, its rate contracts imported with `sluice reference import`, submitted
 * with `sluice submit --wait --json` in 100-invoice chunks, must give exactly the generator's oracle: the report's
 * counts, the held invoices per reason code, the sum of the committed invoice totals in the ledger, the store's
 * invariants and a consistent audit. Then the same invoices sent again in another format are all duplicates.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { freightProfile } from '../../src/profiles/freight/index.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import type { ExpectedOutcome } from '../../src/profiles/types.ts';
import { checkInvariants, expectAuditConsistent, runCli, useSluiceTest, heldByReason } from '../helpers/sluice-env.ts';

const t = useSluiceTest('profile-freight');

const RECORDS = 600;
const CHUNK = 100;
const DEFECTS = {
  total_mismatch: 0.02,
  rate_variance: 0.03,
  no_contract_rate: 0.02,
  invalid_scac: 0.01,
  invalid_date: 0.01,
  parse_error: 0.01,
  duplicate: 0.03,
};
/** Seeds of their own: generated invoice numbers carry the seed, and the ledger is shared by every test file. */
const FORMATS = [
  { format: 'x12', ext: 'edi', seed: 90_001 },
  { format: 'xml', ext: 'xml', seed: 90_002 },
  { format: 'csv', ext: 'csv', seed: 90_003 },
] as const;

let config: string;
beforeAll(async () => {
  config = path.join(t.dir, 'freight-chunks.yaml');
  await writeFile(config, `batch_config:\n  max_chunk_size: ${CHUNK}\n  max_concurrent_chunks: 4\n`);
});

async function generate(
  format: string,
  ext: string,
  seed: number,
): Promise<{ file: string; expected: ExpectedOutcome }> {
  const generator = freightProfile.generator!;
  const file = path.join(t.dir, `freight-${seed}-${format}.${ext}`);
  const opts = { records: RECORDS, seed, defects: DEFECTS, format };
  const expected = await generator.generate(file, opts);
  const references = await generator.references!(file, opts);
  const imported = await runCli(['reference', 'import', 'freight-rates', references['freight-rates']!, '--json']);
  expect(imported.code, imported.stderr).toBe(0);
  expect(JSON.parse(imported.stdout)).toMatchObject({ kind: 'freight-rates', entries: expect.any(Number) });
  return { file, expected };
}

async function submit(file: string): Promise<BatchReport> {
  const res = await runCli(['submit', file, '--profile', 'freight', '--config', config, '--wait', '--json']);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as BatchReport;
}

async function committedTotal(batchId: string): Promise<string> {
  const { rows } = await t.db.query<{ total: string }>(
    `SELECT coalesce(sum((payload->>'total')::numeric), 0)::numeric(20, 2)::text AS total FROM ledger WHERE batch_id = $1`,
    [batchId],
  );
  return rows[0]!.total;
}

const outcomes = new Map<string, ExpectedOutcome>();

describe('freight invoices end to end', () => {
  for (const { format, ext, seed } of FORMATS) {
    it(`${format}: a generated file gives exactly the oracle`, async () => {
      const { file, expected } = await generate(format, ext, seed);
      outcomes.set(format, expected);
      expect(expected.quarantined).toBeGreaterThan(0);
      expect(expected.duplicates).toBeGreaterThan(0);

      const report = await submit(file);
      expect(report).toMatchObject({
        profile: 'freight',
        status: 'awaiting_review',
        records: expected.records,
        committed: expected.committed,
        duplicates: expected.duplicates,
        quarantined: expected.quarantined,
        pendingReview: expected.quarantined,
        approved: 0,
        rejected: 0,
        chunks: Math.ceil(RECORDS / CHUNK),
      });
      expect(await heldByReason(t.db, report.batchId)).toEqual(expected.byReason);
      expect(await committedTotal(report.batchId)).toBe(expected.committedSum!.value);
      await checkInvariants(t.db, report.batchId, expected.records);
      await expectAuditConsistent(report.batchId);
    });
  }

  it('the same invoices sent again as CSV are duplicates of the XML batch, and held ones are held again', async () => {
    // Same seed and defects as the XML file: the same invoices (XML and CSV have no broken-set defect, so even the
    // parse_error draws are the same clean invoices in both).
    const xml = outcomes.get('xml');
    expect(xml).toBeDefined();
    const { file, expected } = await generate('csv', 'csv', FORMATS[1].seed);
    expect(expected).toMatchObject({ committed: xml!.committed, duplicates: xml!.duplicates, byReason: xml!.byReason });

    const ledgerBefore = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ledger WHERE profile = 'freight'`,
    );
    const report = await submit(file);
    expect(report).toMatchObject({
      profile: 'freight',
      records: RECORDS,
      committed: 0,
      duplicates: xml!.committed + xml!.duplicates,
      quarantined: xml!.quarantined,
    });
    expect(await heldByReason(t.db, report.batchId)).toEqual(xml!.byReason);
    const ledgerAfter = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ledger WHERE profile = 'freight'`,
    );
    expect(ledgerAfter.rows[0]!.n).toBe(ledgerBefore.rows[0]!.n);
    await checkInvariants(t.db, report.batchId, RECORDS);
    await expectAuditConsistent(report.batchId);
  });
});
