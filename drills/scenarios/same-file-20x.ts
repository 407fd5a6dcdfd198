/**
 * The same file submitted 20 times at once: 16 concurrent `submitBatch` calls from four client connections and four
 * `sluice submit` processes. Exactly one batch must run (one batch id, one workflow run), exactly one caller may be
 * told it started the batch, the others get the same batch back with `started: false`, and nothing is committed
 * twice. The same bytes submitted again under another batch id must then end as duplicates, every record.
 */
import path from 'node:path';
import { SluiceClient } from '../../src/client/sluice-client.ts';
import type { SubmittedBatch } from '../../src/client/sluice-client.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { committedKeyHash } from '../../src/profiles/generator-kit.ts';
import type { Scenario } from '../types.ts';
import type { Check } from './support.ts';
import { blobDirOf, check, countRuns, runCli, runTag, writeConfigFile } from './support.ts';

const IN_PROCESS = 16;
const CLIENTS = 4;
const CLI_PROCESSES = 4;

export const sameFile20x: Scenario = {
  name: 'same-file-20x',
  summary:
    'the same bytes submitted 20 times at once start one batch (the others get it back), commit nothing twice; ' +
    'under another batch id every record is a duplicate',
  fast: true,
  async run(ctx) {
    await ctx.spawnWorker();
    const { file, expected } = await ctx.generate('same-file', {
      records: 1_500,
      seed: 21,
      defects: { duplicate: 0.03 },
    });
    const config = ctx.config({ max_chunk_size: 300 });
    const configFile = await writeConfigFile(path.join(ctx.dir, 'config.json'), config);
    const blobDir = blobDirOf(ctx);
    if (!blobDir) throw new Error('the drill stack does not expose its blob folder; cannot connect more clients');

    const clients = [ctx.client];
    for (let i = 1; i < CLIENTS; i++) {
      clients.push(
        await SluiceClient.connect({ temporalAddress: ctx.stack.temporalAddress, namespace: 'default', blobDir }),
      );
    }
    try {
      // The CLI processes need a second or two to start; the in-process calls all go out together.
      const cli = Array.from({ length: CLI_PROCESSES }, () =>
        runCli(ctx, ['submit', file, '--profile', 'inventory', '--config', configFile, '--json']),
      );
      const started = Date.now();
      const inProcess = await Promise.allSettled(
        Array.from({ length: IN_PROCESS }, (_, i) =>
          clients[i % CLIENTS]!.submitBatch({ file, profile: 'inventory', config }),
        ),
      );
      const cliResults = await Promise.all(cli);
      ctx.log(`20 submissions answered in ${Date.now() - started} ms`);

      const submissions: Array<SubmittedBatch & { via: string }> = [];
      const errors: string[] = [];
      inProcess.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          const { batchId, workflowId, sha256, started: s } = r.value;
          submissions.push({ batchId, workflowId, sha256, started: s, via: `client ${i}` });
        } else errors.push(`client ${i}: ${(r.reason as Error).message}`);
      });
      for (const r of cliResults) {
        if (r.code !== 0) {
          errors.push(`cli pid ${r.pid}: exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
          continue;
        }
        try {
          const s = JSON.parse(r.stdout) as SubmittedBatch;
          submissions.push({ ...s, via: `cli pid ${r.pid}` });
        } catch {
          errors.push(`cli pid ${r.pid}: stdout is not JSON: ${r.stdout.slice(0, 200)}`);
        }
      }

      const batchIds = [...new Set(submissions.map((s) => s.batchId))];
      const batchId = batchIds[0] ?? '';
      const startedBy = submissions.filter((s) => s.started).map((s) => s.via);
      const report = await ctx.client.settled(batchId);
      const runs = await countRuns(ctx.client.temporal, batchId);

      // The same bytes again, under a batch id of their own, once the first batch has committed: all duplicates.
      const otherId = `same-file-again-${runTag().toLowerCase()}`;
      const again = await runCli(ctx, [
        'submit',
        file,
        '--profile',
        'inventory',
        '--batch-id',
        otherId,
        '--config',
        configFile,
        '--wait',
        '--json',
      ]);
      let againReport: BatchReport | undefined;
      try {
        againReport = JSON.parse(again.stdout) as BatchReport;
      } catch {
        againReport = undefined;
      }
      const allDuplicates = {
        ...expected,
        committed: 0,
        duplicates: expected.records,
        quarantined: 0,
        byReason: {},
        committedSum: { field: 'quantity', value: '0' },
        committedKeyHash: committedKeyHash([]),
      };

      const checks: Check[] = [
        check(
          'all 20 submissions answered',
          errors.length === 0 && submissions.length === IN_PROCESS + CLI_PROCESSES,
          errors.length === 0 ? `${submissions.length} answers` : errors.join('; '),
        ),
        check('one batch id', batchIds.length === 1, `batch ids: ${batchIds.join(', ')}`),
        check('one workflow run', runs === 1, `${runs} run(s) of sluice-batch-${batchId}`),
        check(
          'exactly one submission started the batch; the others got it back with started: false',
          startedBy.length === 1,
          `started: true for ${startedBy.length} of ${submissions.length} (${startedBy.join(', ') || 'none'})`,
        ),
        check(
          'the batch reports the oracle counts',
          report.records === expected.records &&
            report.committed === expected.committed &&
            report.duplicates === expected.duplicates,
          `report ${report.committed} committed, ${report.duplicates} duplicates of ${report.records}; ` +
            `oracle ${expected.committed}/${expected.duplicates} of ${expected.records}`,
        ),
        check(
          'the same bytes under another batch id: every record a duplicate',
          again.code === 0 &&
            againReport?.batchId === otherId &&
            againReport.committed === 0 &&
            againReport.duplicates === expected.records,
          again.code === 0 && againReport
            ? `${otherId}: ${againReport.committed} committed, ${againReport.duplicates} duplicates of ${againReport.records}`
            : `submit --batch-id exited ${again.code}: ${again.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        ),
      ];
      return {
        batches: [
          { batchId, expected },
          { batchId: otherId, expected: allDuplicates },
        ],
        expectRetry: false,
        checks,
        fault: `${IN_PROCESS} concurrent submitBatch calls on ${CLIENTS} connections and ${CLI_PROCESSES} sluice submit processes, same bytes`,
      };
    } finally {
      for (const c of clients.slice(1)) await c.close().catch(() => undefined);
    }
  },
};
