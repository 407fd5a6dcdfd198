/**
 * `sluice demo`: the bundled sample batches end to end. Starts whatever part of the local stack is not running (and a
 * worker if none polls the task queue), submits the samples, prints their reports, and leaves the batch with planted
 * defects waiting for review, with the Web UI address and the exact JSON to paste into the signal dialog.
 */
import { fileURLToPath } from 'node:url';
import type { Command } from '@commander-js/extra-typings';
import { SluiceClient } from '../../client/sluice-client.ts';
import { loadEnv } from '../../config/env.ts';
import { TASK_QUEUE } from '../../shared/task-queues.ts';
import type { BatchReport } from '../../shared/contracts.ts';
import { startLocalStack } from '../../stack/local-stack.ts';
import { installWorkerRuntime, startWorker } from '../../workers/worker.ts';
import { EXIT, log, printJson, printReport, progressBar } from '../output.ts';
import { untilInterrupted } from './stack.ts';

export const DEMO_SAMPLES = [
  {
    file: fileURLToPath(new URL('../../../samples/inventory/lab-manifest-clean.csv', import.meta.url)),
    profile: 'inventory',
  },
  {
    file: fileURLToPath(new URL('../../../samples/inventory/lab-manifest-defects.csv', import.meta.url)),
    profile: 'inventory',
  },
];

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
        for (const sample of DEMO_SAMPLES) {
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

        const waiting = reports.find((r) => r.status === 'awaiting_review');
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
