/**
 * Records the histories that test/replay replays: a batch of the bundled defects sample taken through a refused
 * decision, an approval, an amendment and a rejection to completion, plus one of its chunks. Run it against a
 * running stack (`sluice dev` in another terminal) whenever workflow behaviour changes on purpose:
 *
 *   node --import tsx scripts/record-replay-histories.ts
 *
 * It submits a copy of the sample with a fresh batch id, so it never disturbs the demo's batches.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SluiceClient } from '../src/client/sluice-client.ts';
import { loadEnv } from '../src/config/env.ts';
import { resolveTemporalCli } from '../src/stack/temporal-cli.ts';
import { DEMO_SAMPLES } from '../src/cli/commands/demo.ts';

const exec = promisify(execFile);
const OUT = fileURLToPath(new URL('../test/replay/histories/', import.meta.url));

const env = loadEnv();
const sluice = await SluiceClient.connect(env);
const temporal = await resolveTemporalCli({ install: false });
try {
  const sample = DEMO_SAMPLES[1]!;
  if (!('file' in sample)) throw new Error('the second demo sample must be a bundled inventory file');
  const batchId = `replay-${Date.now()}`;
  await sluice.submitBatch({ file: sample.file, profile: sample.profile, batchId });
  const settled = await sluice.settled(batchId);
  if (settled.status !== 'awaiting_review') throw new Error(`expected a batch awaiting review, got ${settled.status}`);

  const signal = (input: string) =>
    exec(temporal, [
      'workflow',
      'signal',
      '--address',
      env.temporalAddress,
      '-w',
      settled.workflowId,
      '--name',
      'review',
      '--input',
      input,
    ]);
  await signal('{"decisionId":"bad","action":"approve","reviewer":"rec"}');
  await signal('{"decisionId":"ok-1","reasonCode":"quantity_outlier","action":"approve","reviewer":"rec"}');
  await sluice.decide(batchId, {
    decisionId: 'ok-2',
    reasonCode: 'nonstandard_location',
    action: 'amend',
    patch: { location: 'CHEM-101' },
    reviewer: 'rec',
  });
  await sluice.decide(batchId, { decisionId: 'ok-3', all: true, action: 'reject', reviewer: 'rec', note: 'done' });
  const report = await sluice.temporal.workflow.getHandle(settled.workflowId).result();

  await mkdir(OUT, { recursive: true });
  const index: Record<string, string> = {};
  for (const [name, workflowId] of [
    ['batch-review-complete', settled.workflowId],
    ['chunk', `${settled.workflowId}/chunk-0`],
  ] as const) {
    const { stdout } = await exec(
      temporal,
      ['workflow', 'show', '--address', env.temporalAddress, '-w', workflowId, '-o', 'json'],
      {
        maxBuffer: 64 << 20,
      },
    );
    await writeFile(`${OUT}${name}.json`, stdout);
    index[`${name}.json`] = workflowId;
    console.log(`wrote ${OUT}${name}.json (${report.status}, ${report.records} records)`);
  }
  // Replay needs each history's workflow id: child workflow ids are derived from it.
  await writeFile(`${OUT}index.json`, `${JSON.stringify(index, null, 2)}\n`);
} finally {
  await sluice.close();
}
