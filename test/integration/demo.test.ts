/** `sluice demo` against the test stack: one batch per profile, each reaching its expected counts; some wait for review. */
import { readFile } from 'node:fs/promises';
import { expect, inject, it } from 'vitest';
import path from 'node:path';
import { demoBatches } from '../../src/cli/commands/demo.ts';
import { profiles } from '../../src/profiles/index.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { expectAuditConsistent, runCli, useSluiceTest } from '../helpers/sluice-env.ts';

useSluiceTest('demo');

it('processes the bundled samples, prints their reports, and leaves one batch waiting for review', async () => {
  const res = await runCli(['demo', '--json', '--no-keep']);
  expect(res.code, res.stderr).toBe(0);
  const reports: BatchReport[] = JSON.parse(res.stdout);
  const batches = await demoBatches(path.join(inject('sluiceHome'), 'demo'));
  expect(reports).toHaveLength(batches.length);
  for (const [i, sample] of batches.entries()) {
    const expected = JSON.parse(await readFile(`${sample.file}.expected.json`, 'utf8'));
    expect(reports[i]).toMatchObject({
      records: expected.records,
      committed: expected.committed,
      duplicates: expected.duplicates,
      quarantined: expected.quarantined,
      status: expected.quarantined > 0 ? 'awaiting_review' : 'completed',
    });
  }
  expect(new Set(reports.map((r) => r.profile))).toEqual(new Set(Object.keys(profiles)));
  expect(reports.filter((r) => r.status === 'awaiting_review').length).toBeGreaterThan(0);
  for (const r of reports) await expectAuditConsistent(r.batchId);
  // The way to review it: the UI address and a decision to paste.
  expect(res.stderr).toMatch(
    /Open http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/sluice-batch-[a-z-]+-[0-9a-f]{16}/,
  );
  expect(res.stderr).toContain('"action":"approve"');
});
