/**
 * `sluice demo`: the bundled sample batches end to end. Starts whatever part of the local stack is not running (and a
 * worker if none polls the task queue), submits the samples, prints their reports, and leaves the batch with planted
 * defects waiting for review, with the Web UI address and the exact JSON to paste into the signal dialog.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '@commander-js/extra-typings';
import { SluiceClient } from '../../client/sluice-client.ts';
import { loadEnv } from '../../config/env.ts';
import { TASK_QUEUE } from '../../shared/task-queues.ts';
import type { BatchReport } from '../../shared/contracts.ts';
import { getProfile, referenceKinds } from '../../profiles/index.ts';
import { sluiceHome } from '../../stack/paths.ts';
import { startLocalStack } from '../../stack/local-stack.ts';
import { sha256OfFile } from '../../store/blobs.ts';
import { createDb } from '../../store/db.ts';
import { migrate } from '../../store/migrate.ts';
import { importReference, listReferenceImports } from '../../store/reference.ts';
import { installWorkerRuntime, startWorker } from '../../workers/worker.ts';
import { EXIT, log, printJson, printReport, progressBar } from '../output.ts';
import { untilInterrupted } from './stack.ts';

const sample = (path: string): string => fileURLToPath(new URL(`../../../samples/${path}`, import.meta.url));

/** A bundled sample (with `<file>.expected.json`), or a file the profile's generator writes for the demo. */
export type DemoSample =
  | {
      file: string;
      profile: string;
      /** Reference data the sample is classified against, imported first: kind -> file. */
      references?: Record<string, string>;
    }
  | { profile: string; generate: { format: string; records: number } };

/** One batch per profile (inventory: a clean one too), in an order where each finds what it needs committed. */
export const DEMO_SAMPLES: readonly DemoSample[] = [
  { file: sample('inventory/lab-manifest-clean.csv'), profile: 'inventory' },
  { file: sample('inventory/lab-manifest-defects.csv'), profile: 'inventory' },
  { profile: 'freight', generate: { format: 'x12', records: 60 } },
  { profile: 'customs', generate: { format: 'json', records: 40 } },
  {
    file: sample('rebate/claims-q1.csv'),
    profile: 'rebate',
    references: { promotions: sample('rebate/promotions.csv') },
  },
  // Purchase orders: ship notices and invoices are matched against them once committed (docs/profiles/supply-feed.md).
  { file: sample('supply-feed/purchase-orders.edi'), profile: 'supply-feed' },
];

/**
 * The demo's batches as files: bundled samples as they are, generated ones written under `dir` (same seed, same
 * bytes, so a second demo finds its batches already done) with their reference files and `.expected.json`.
 */
export async function demoBatches(
  dir: string,
): Promise<{ file: string; profile: string; references: Record<string, string> }[]> {
  const out = [];
  for (const s of DEMO_SAMPLES) {
    if ('file' in s) {
      out.push({ file: s.file, profile: s.profile, references: s.references ?? {} });
      continue;
    }
    const generator = getProfile(s.profile).generator;
    if (!generator) throw new Error(`demo: profile ${s.profile} has no generator`);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${s.profile}-demo.${s.generate.format === 'x12' ? 'edi' : s.generate.format}`);
    const opts = { records: s.generate.records, seed: 1, format: s.generate.format, defects: generator.defaultDefects };
    const expected = await generator.generate(file, opts);
    await writeFile(`${file}.expected.json`, `${JSON.stringify(expected, null, 2)}\n`);
    out.push({ file, profile: s.profile, references: (await generator.references?.(file, opts)) ?? {} });
  }
  return out;
}

async function hasWorker(sluice: SluiceClient, namespace: string): Promise<boolean> {
  const res = await sluice.temporal.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: TASK_QUEUE.ingest },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
  });
  return (res.pollers ?? []).length > 0;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Process the bundled sample batches end to end and print their reports (starts the stack if needed).')
    .option('--json', 'print the reports as one JSON document on stdout')
    .option('--keep', 'keep the stack running after the demo (default when it started the stack on a terminal)')
    .option('--no-keep', 'stop whatever the demo started when it ends')
    .action(async (opts) => {
      installWorkerRuntime();
      const stack = await startLocalStack({ log });
      const env = { ...loadEnv(), temporalAddress: stack.temporalAddress, databaseUrl: stack.databaseUrl };
      const sluice = await SluiceClient.connect(env);
      let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
      try {
        if (!(await hasWorker(sluice, env.namespace))) {
          log('no worker polls the task queue: starting one in this process');
          worker = await startWorker({ ...env, log });
        }
        const reports: BatchReport[] = [];
        const batches = await demoBatches(join(sluiceHome(), 'demo'));
        await importDemoReferences(env.databaseUrl, batches);
        for (const { file, profile } of batches) {
          const sample = { file, profile };
          const submitted = await sluice.submitBatch(sample);
          log(`${submitted.started ? 'submitted' : 'already submitted'}: ${sample.file} -> batch ${submitted.batchId}`);
          const bar = opts.json ? null : progressBar(submitted.batchId);
          const report = await sluice.settled(submitted.batchId, (p) => bar?.update(p)).finally(() => bar?.stop());
          reports.push(report);
          if (!opts.json) {
            printReport(report);
            process.stdout.write('\n');
          }
        }
        if (opts.json) printJson(reports);

        const waiting = reports.findLast((r) => r.status === 'awaiting_review');
        if (waiting) {
          const view = await sluice.pendingReview(waiting.batchId);
          const ui = stack.uiUrl ?? env.uiUrl;
          log(
            [
              `Batch ${waiting.batchId} holds ${waiting.pendingReview} record(s) for review:`,
              ...view.groups.map((g) => `  ${g.reasonCode} (${g.errorSignature}): ${g.count}`),
              '',
              `Open ${ui}/namespaces/${env.namespace}/workflows/${encodeURIComponent(waiting.workflowId)}`,
              'then "Send a Signal", signal name "review", with this input:',
              `  ${JSON.stringify(view.example)}`,
              `(all waiting batches: ${ui}/namespaces/${env.namespace}/workflows?query=${encodeURIComponent('SluicePendingReview > 0')})`,
              `or from the shell: sluice review show ${waiting.batchId}`,
            ].join('\n'),
          );
        }
        process.exitCode = reports.some((r) => r.status === 'failed') ? EXIT.failed : EXIT.ok;

        const startedSomething = worker !== undefined || stack.startedAny;
        const keep = opts.keep ?? (process.stdin.isTTY === true && process.env.CI === undefined);
        if (startedSomething && keep) {
          log('\nThe stack keeps running so that you can review in the UI. Press Ctrl-C to stop it.');
          await untilInterrupted();
        } else if (startedSomething) {
          log('\nStopping what the demo started; the batches and their review survive in .sluice/ (run `sluice dev`).');
        }
      } finally {
        await worker?.shutdown().catch(() => undefined);
        await sluice.close();
        await stack.stop();
      }
    });
}

/** Imports the reference data the samples need (rate contracts, HS codes, promotions), once per file content. */
async function importDemoReferences(
  databaseUrl: string,
  batches: readonly { references: Record<string, string> }[],
): Promise<void> {
  const kinds = referenceKinds();
  const db = createDb(databaseUrl, { max: 2, applicationName: 'sluice-demo' });
  try {
    await migrate(db);
    const loaded = new Map((await listReferenceImports(db)).map((i) => [i.kind, i.sha256]));
    for (const [kind, file] of batches.flatMap((s) => Object.entries(s.references))) {
      const sha256 = await sha256OfFile(file);
      if (loaded.get(kind) === sha256) continue;
      const def = kinds.get(kind);
      if (!def) throw new Error(`demo sample needs unknown reference kind ${kind}`);
      const imported = await importReference(
        db,
        kind,
        { fileName: basename(file), sha256 },
        def.read(file, basename(file)),
      );
      loaded.set(kind, sha256);
      log(`reference data: ${imported.entries} ${kind} entries from ${basename(file)}`);
    }
  } finally {
    await db.end();
  }
}
