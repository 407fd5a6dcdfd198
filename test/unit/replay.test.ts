/**
 * Replays committed histories against today's workflow code: a change that would break running batches fails here.
 * Record new histories with scripts/record-replay-histories.ts when behaviour changes on purpose (and guard the
 * change with patched()).
 */
import { readFile, readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOWS_PATH } from '../../src/workers/worker.ts';

const DIR = fileURLToPath(new URL('../replay/histories/', import.meta.url));
const TAMPERED = fileURLToPath(new URL('../replay/tampered/index.ts', import.meta.url));
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
let bundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
}, 60_000);

describe('committed histories replay without a determinism error', async () => {
  const workflowIds: Record<string, string> = JSON.parse(await readFile(`${DIR}index.json`, 'utf8'));
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.json') && f !== 'index.json').sort();

  it('there are histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)(
    '%s',
    async (file) => {
      const history = JSON.parse(await readFile(DIR + file, 'utf8'));
      expect(workflowIds[file], `${file} is listed in index.json`).toBeDefined();
      await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowIds[file]);
    },
    60_000,
  );
});

it('a non-deterministic change fails the replay', async () => {
  const tampered = await bundleWorkflowCode({ workflowsPath: TAMPERED, logger: quiet });
  const history = JSON.parse(await readFile(`${DIR}batch-review-complete.json`, 'utf8'));
  const workflowIds = JSON.parse(await readFile(`${DIR}index.json`, 'utf8'));
  const replay = Worker.runReplayHistory(
    { workflowBundle: tampered },
    history,
    workflowIds['batch-review-complete.json'],
  );
  await expect(replay).rejects.toBeInstanceOf(DeterminismViolationError);
}, 60_000);
