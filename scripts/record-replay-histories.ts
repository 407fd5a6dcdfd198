/**
 * Records the histories that test/replay replays: a batch of the bundled defects sample taken through a refused
 * decision, an approval, an amendment and a rejection to completion, plus one of its chunks; a batch whose circuit
 * breaker opens while a downstream API is down, and one stopped by a tolerated failure threshold. Run it against a
 * running stack (`sluice dev` in another terminal) whenever workflow behaviour changes on purpose:
 *
 *   node --import tsx scripts/record-replay-histories.ts <tag>     (e.g. v3)
 *
 * Files are written as `<name>-<tag>.json` beside the earlier ones, which stay: histories of every released version
 * must keep replaying.
 * It submits a copy of the sample with a fresh batch id, so it never disturbs the demo's batches.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SluiceClient } from '../src/client/sluice-client.ts';
import { loadEnv } from '../src/config/env.ts';
import { resolveTemporalCli } from '../src/stack/temporal-cli.ts';
import { DEMO_SAMPLES } from '../src/cli/commands/demo.ts';
import { resolveBatchConfig } from '../src/config/batch-config.ts';
import { generateInventoryManifest } from '../src/profiles/inventory/generator.ts';
import { getProfile } from '../src/profiles/index.ts';

const exec = promisify(execFile);
const OUT = fileURLToPath(new URL('../test/replay/histories/', import.meta.url));

const tag = process.argv[2];
if (!tag || !/^[a-z0-9-]+$/.test(tag)) {
  console.error('usage: node --import tsx scripts/record-replay-histories.ts <tag>   (lower-case letters, digits, -)');
  process.exit(2);
}
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

  // The circuit breaker: an API that answers 503 for the first 4 s, so the first commits retry and the breaker
  // opens, waits 3 s and probes.
  const work = await mkdtemp(path.join(tmpdir(), 'sluice-replay-'));
  const upAt = Date.now() + 4000;
  const seen = new Set<string>();
  const api = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      if (Date.now() < upAt) return void res.writeHead(503).end('down');
      res.writeHead(seen.has(key) ? 409 : 201).end();
      seen.add(key);
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const inventory = getProfile('inventory');
  const breakerFile = path.join(work, 'breaker.csv');
  await generateInventoryManifest(breakerFile, { records: 800, seed: Date.now() % 100_000 });
  const breaker = await sluice.submitBatch({
    file: breakerFile,
    profile: 'inventory',
    batchId: `replay-breaker-${Date.now()}`,
    config: resolveBatchConfig(
      {
        batch_config: {
          max_chunk_size: 50,
          max_concurrent_chunks: 4,
          retry_policy: { initial_interval_seconds: 0.2, max_interval_seconds: 1 },
          commit_target: { type: 'http', url: `http://127.0.0.1:${(api.address() as AddressInfo).port}/chunks` },
          circuit_breaker: { min_attempts: 6, cooldown_seconds: 3 },
        },
      },
      inventory,
    ),
  });
  const breakerReport = await breaker.result();
  api.close();

  // A tolerated failure threshold: a fifth of the records have a bad quantity, 5 % are tolerated.
  const stoppedFile = path.join(work, 'stopped.csv');
  await generateInventoryManifest(stoppedFile, {
    records: 3000,
    seed: (Date.now() % 100_000) + 1,
    defects: { invalid_quantity: 0.2 },
  });
  const stopped = await sluice.submitBatch({
    file: stoppedFile,
    profile: 'inventory',
    batchId: `replay-stopped-${Date.now()}`,
    config: resolveBatchConfig(
      {
        batch_config: { max_chunk_size: 100, max_concurrent_chunks: 2, tolerated_failures: { invalid_quantity: 5 } },
      },
      inventory,
    ),
  });
  const stoppedReport = await stopped.result();
  if (stoppedReport.status !== 'stopped') throw new Error(`expected a stopped batch, got ${stoppedReport.status}`);

  await mkdir(OUT, { recursive: true });
  const indexFile = `${OUT}index.json`;
  const index: Record<string, string> = JSON.parse(await readFile(indexFile, 'utf8').catch(() => '{}'));
  for (const [name, workflowId] of [
    ['batch-review-complete', settled.workflowId],
    ['chunk', `${settled.workflowId}/chunk-0`],
    ['batch-circuit-breaker', breaker.workflowId],
    ['chunk-commit-retried', `${breaker.workflowId}/chunk-0`],
    ['batch-stopped', stopped.workflowId],
  ] as const) {
    const { stdout } = await exec(
      temporal,
      ['workflow', 'show', '--address', env.temporalAddress, '-w', workflowId, '-o', 'json'],
      {
        maxBuffer: 64 << 20,
      },
    );
    await writeFile(`${OUT}${name}-${tag}.json`, stdout);
    index[`${name}-${tag}.json`] = workflowId;
    console.log(`wrote ${OUT}${name}-${tag}.json`);
  }
  // Replay needs each history's workflow id: child workflow ids are derived from it.
  await writeFile(indexFile, `${JSON.stringify(index, null, 2)}\n`);
  console.log(
    `review batch ${report.status}; breaker batch ${breakerReport.status}; ` +
      `stopped batch: ${stoppedReport.stopReason} (${stoppedReport.notProcessed} not processed)`,
  );
} finally {
  await sluice.close();
}
