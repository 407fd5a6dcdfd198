/** `sluice demo` against the test stack: both sample batches reach their expected counts, one waits for review. */
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { DEMO_SAMPLES } from '../../src/cli/commands/demo.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { expectAuditConsistent, runCli, useSluiceTest } from '../helpers/sluice-env.ts';

useSluiceTest('demo');

it('processes the bundled samples, prints their reports, and leaves one batch waiting for review', async () => {
  const res = await runCli(['demo', '--json', '--no-keep']);
  expect(res.code, res.stderr).toBe(0);
  const reports: BatchReport[] = JSON.parse(res.stdout);
  expect(reports).toHaveLength(DEMO_SAMPLES.length);
  for (const [i, sample] of DEMO_SAMPLES.entries()) {
    const expected = JSON.parse(await readFile(`${sample.file}.expected.json`, 'utf8'));
    expect(reports[i]).toMatchObject({
      records: expected.records,
      committed: expected.committed,
      duplicates: expected.duplicates,
      quarantined: expected.quarantined,
      status: expected.quarantined > 0 ? 'awaiting_review' : 'completed',
    });
  }
  expect(reports.filter((r) => r.status === 'awaiting_review')).toHaveLength(1);
  for (const r of reports) await expectAuditConsistent(r.batchId);
  // The way to review it: the UI address and a decision to paste.
  expect(res.stderr).toMatch(/Open http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/sluice-batch-inventory-/);
  expect(res.stderr).toContain('"action":"approve"');
});
