/**
 * The inventory profile's second format end to end: an XLSX manifest (quantities as numbers, dates as date cells)
 * reaches exactly the generator's counts, like the CSV manifests of batch-lifecycle.test.ts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateInventoryFile } from '../../src/profiles/inventory/generator.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { checkInvariants, expectAuditConsistent, runCli, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('profile-inventory');

describe('inventory profile, XLSX manifests', () => {
  it('reaches exactly the oracle and audits clean', async () => {
    const file = path.join(t.dir, 'manifest.xlsx');
    const expected = await generateInventoryFile(file, {
      records: 2000,
      seed: 3107,
      format: 'xlsx',
      defects: { invalid_grant_code: 0.02, invalid_date: 0.02, quantity_outlier: 0.01, duplicate: 0.03 },
    });
    const config = path.join(t.dir, 'small-chunks.yaml');
    await writeFile(config, 'batch_config:\n  max_chunk_size: 250\n');
    const res = await runCli(['submit', file, '--profile', 'inventory', '--config', config, '--wait', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as BatchReport;
    expect(report).toMatchObject({
      records: expected.records,
      committed: expected.committed,
      duplicates: expected.duplicates,
      quarantined: expected.quarantined,
      chunks: 8,
    });
    await checkInvariants(t.db, report.batchId, expected.records);
    const byReason = await t.db.query<{ reason_code: string; n: number }>(
      'SELECT reason_code, count(*)::int AS n FROM record_disposition WHERE batch_id = $1 AND held GROUP BY 1',
      [report.batchId],
    );
    expect(Object.fromEntries(byReason.rows.map((r) => [r.reason_code, r.n]))).toEqual(expected.byReason);
    // A held record names its sheet row.
    const held = await t.db.query<{ location: { position?: string } }>(
      'SELECT location FROM record_disposition WHERE batch_id = $1 AND held ORDER BY record_no LIMIT 1',
      [report.batchId],
    );
    expect(held.rows[0]!.location.position).toMatch(/^sheet "Manifest" row \d+$/);
    await expectAuditConsistent(report.batchId);
  });
});
