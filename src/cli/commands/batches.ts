/** `sluice submit` and `sluice status`. */
import { access } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { Option } from '@commander-js/extra-typings';
import { SluiceClient } from '../../client/sluice-client.ts';
import type { SubmittedBatch } from '../../client/sluice-client.ts';
import { loadBatchConfigFile, resolveBatchConfig } from '../../config/batch-config.ts';
import { loadEnv } from '../../config/env.ts';
import { getProfile, profiles } from '../../profiles/index.ts';
import type { BatchReport } from '../../shared/contracts.ts';
import { EXIT, UsageError, exitCodeOf, log, printJson, printReport, progressBar } from '../output.ts';

export function registerBatchCommands(program: Command): void {
  program
    .command('submit')
    .description('Submit input files as batches (one batch per file). Identical bytes are never processed twice.')
    .argument('<file...>', 'input files')
    .addOption(new Option('--profile <id>', 'domain profile').choices(Object.keys(profiles)).makeOptionMandatory())
    .option('--batch-id <id>', 'batch id (one file only); default <profile>-<first 16 hex of the SHA-256>')
    .option('--config <yaml>', 'batch_config YAML (chunk size, payload cap, timeouts, retry policy)')
    .option('--wait', 'wait until nothing is in flight and print the report (progress on stderr)')
    .option('--json', 'print one JSON document on stdout')
    .action(async (files, opts) => {
      if (opts.batchId && files.length > 1) throw new UsageError('--batch-id needs exactly one file');
      for (const f of files) {
        await access(f).catch(() => {
          throw new UsageError(`${f}: no such file`);
        });
      }
      const profile = getProfile(opts.profile);
      const config = opts.config
        ? await loadBatchConfigFile(opts.config, profile)
        : resolveBatchConfig(undefined, profile);
      const sluice = await SluiceClient.connect(loadEnv());
      try {
        const results: (BatchReport | SubmittedBatch)[] = [];
        let code: number = EXIT.ok;
        for (const file of files) {
          const submitted = await sluice.submitBatch({ file, profile: profile.id, batchId: opts.batchId, config });
          log(
            submitted.started
              ? `submitted ${file} as batch ${submitted.batchId}`
              : `${file} was submitted before: batch ${submitted.batchId} (nothing new started)`,
          );
          if (!opts.wait) {
            const { batchId, workflowId, sha256, started } = submitted;
            results.push({ batchId, workflowId, sha256, started });
            continue;
          }
          const bar = opts.json ? null : progressBar(submitted.batchId);
          const report = await submitted.settled((p) => bar?.update(p), log).finally(() => bar?.stop());
          if (exitCodeOf(report) !== EXIT.ok) code = exitCodeOf(report);
          results.push(report);
          if (!opts.json) printReport(report);
          if (report.status === 'awaiting_review') {
            log(`${report.pendingReview} record(s) wait for review: sluice review show ${report.batchId}`);
          }
        }
        if (opts.json) printJson(files.length === 1 ? results[0] : results);
        else if (!opts.wait) for (const r of results) process.stdout.write(`${r.batchId}\n`);
        process.exitCode = code;
      } finally {
        await sluice.close();
      }
    });

  program
    .command('status')
    .description('Show a batch report: final when the batch has finished, live while it runs.')
    .argument('<batchId>')
    .option('--json', 'print one JSON document on stdout')
    .action(async (batchId, opts) => {
      const sluice = await SluiceClient.connect(loadEnv());
      try {
        const report = await sluice.getBatchStatus(batchId);
        if (opts.json) printJson(report);
        else printReport(report);
        process.exitCode = exitCodeOf(report);
      } finally {
        await sluice.close();
      }
    });
}

export function registerOperatorCommands(program: Command): void {
  program
    .command('pause')
    .description('Stop dispatching new chunks of a running batch; chunks in flight finish. Review is not affected.')
    .argument('<batchId>')
    .option('--operator <name>', 'who pauses (recorded in the workflow history)')
    .option('--reason <text>', 'why (recorded in the workflow history)')
    .action(async (batchId, opts) => {
      const sluice = await SluiceClient.connect(loadEnv());
      try {
        await sluice.getBatchStatus(batchId); // a clear error for an unknown batch
        await sluice.pause(batchId, { operator: opts.operator, reason: opts.reason });
        log(`batch ${batchId}: pause sent; in-flight chunks finish, no new ones start until \`sluice resume\``);
      } finally {
        await sluice.close();
      }
    });

  program
    .command('resume')
    .description('Dispatch chunks of a paused batch again.')
    .argument('<batchId>')
    .option('--operator <name>', 'who resumes (recorded in the workflow history)')
    .action(async (batchId, opts) => {
      const sluice = await SluiceClient.connect(loadEnv());
      try {
        await sluice.getBatchStatus(batchId);
        await sluice.resume(batchId, { operator: opts.operator });
        log(`batch ${batchId}: resume sent`);
      } finally {
        await sluice.close();
      }
    });
}
