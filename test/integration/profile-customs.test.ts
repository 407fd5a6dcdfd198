/**
 * The customs profile end to end on the real stack, in each of its formats: the HS 2022 nomenclature imported with
 * `sluice reference import hs`, a generated file with planted defects submitted through the CLI in small chunks, and
 * the report, the dispositions by reason, the store's invariants and the audit all as the oracle says. Then the same
 * invoices in another format: every one already committed is a duplicate, because the key is the invoice's, not the
 * file's.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { customsProfile } from '../../src/profiles/customs/index.ts';
import type { ExpectedOutcome } from '../../src/profiles/types.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { checkInvariants, expectAuditConsistent, runCli, useSluiceTest, heldByReason } from '../helpers/sluice-env.ts';
import { sharedDataFile } from '../helpers/shared-data.ts';

const t = useSluiceTest('profile-customs');

/** The shared HS 2022 nomenclature, read from beside the repository (never copied into it). */
const HS_FILE = sharedDataFile('data/hs2022/harmonized-system.csv');
const RECORDS = 800;
const DEFECTS = {
  missing_field: 0.02,
  locale_number: 0.02,
  invalid_date: 0.01,
  invalid_incoterm: 0.01,
  invalid_currency: 0.01,
  invalid_country: 0.01,
  invalid_hs_code: 0.01,
  total_mismatch: 0.02,
  weight_inconsistent: 0.01,
  package_count_mismatch: 0.01,
  unknown_hs_code: 0.02,
  low_confidence: 0.02,
  duplicate: 0.04,
};

let config: string;

beforeAll(async () => {
  const res = await runCli(['reference', 'import', 'hs', HS_FILE, '--json']);
  expect(res.code, res.stderr).toBe(0);
  expect(JSON.parse(res.stdout)).toMatchObject({ kind: 'hs', entries: 6939 });
  config = path.join(t.dir, 'chunks-100.yaml');
  await writeFile(config, 'batch_config:\n  max_chunk_size: 100\n  max_concurrent_chunks: 4\n');
});

async function submit(file: string): Promise<BatchReport> {
  const res = await runCli(['submit', file, '--profile', 'customs', '--config', config, '--wait', '--json']);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as BatchReport;
}

async function generate(format: string, seed: number): Promise<{ file: string; expected: ExpectedOutcome }> {
  const file = path.join(t.dir, `invoices-${seed}.${format}`);
  const expected = await customsProfile.generator!.generate(file, { records: RECORDS, seed, defects: DEFECTS, format });
  return { file, expected };
}

describe('customs profile, every format on the real stack', () => {
  it.each([
    ['json', 101, '$['],
    ['ndjson', 102, 'line '],
    ['xml', 103, '/Invoices/Invoice['],
    ['csv', 104, 'line'],
  ])(
    '%s: the report and the dispositions are exactly the oracle, and the audit is clean',
    async (format, seed, where) => {
      const { file, expected } = await generate(format, seed);
      const report = await submit(file);
      expect(report).toMatchObject({
        profile: 'customs',
        status: 'awaiting_review',
        records: expected.records,
        committed: expected.committed,
        duplicates: expected.duplicates,
        quarantined: expected.quarantined,
        pendingReview: expected.quarantined,
        chunks: Math.ceil(RECORDS / 100),
      });
      expect(await heldByReason(t.db, report.batchId)).toEqual(expected.byReason);
      await checkInvariants(t.db, report.batchId, expected.records);
      // A held invoice says where it is in its file.
      const held = await t.db.query<{ location: { position?: string; file: string } }>(
        'SELECT location FROM record_disposition WHERE batch_id = $1 AND held ORDER BY record_no LIMIT 1',
        [report.batchId],
      );
      expect(held.rows[0]!.location).toMatchObject({ file: path.basename(file) });
      expect(held.rows[0]!.location.position).toContain(where);
      await expectAuditConsistent(report.batchId);
    },
  );

  it('the same invoices as XML after JSON: nothing commits twice', async () => {
    const { expected } = await generate('json', 101);
    const { file } = await generate('xml', 101);
    const report = await submit(file);
    expect(report).toMatchObject({
      records: RECORDS,
      committed: 0,
      duplicates: expected.committed + expected.duplicates,
      quarantined: expected.quarantined,
    });
    expect(await heldByReason(t.db, report.batchId)).toEqual(expected.byReason);
    await checkInvariants(t.db, report.batchId, RECORDS);
  });
});
