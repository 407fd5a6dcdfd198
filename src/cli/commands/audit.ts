/** `sluice audit <batchId>`: every record's journey, verified; exit 1 when anything is inconsistent. */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from '@commander-js/extra-typings';
import type { RecordJourney } from '../../audit/batch-audit.ts';
import { auditBatch } from '../../audit/batch-audit.ts';
import { CSV_COLUMNS, csvRow, evidenceMarkdown } from '../../audit/render.ts';
import { SluiceClient } from '../../client/sluice-client.ts';
import { loadEnv } from '../../config/env.ts';
import { getProfile } from '../../profiles/index.ts';
import { createLocalBlobStore } from '../../store/blobs.ts';
import { createDb } from '../../store/db.ts';
import { EXIT, UsageError, log } from '../output.ts';

const EVIDENCE_EXCEPTIONS = 1000;

/** Writes with back-pressure, so a million-record audit streams in bounded memory. */
const write = (out: Writable, text: string): Promise<void> | void =>
  out.write(text) ? undefined : new Promise((resolve) => out.once('drain', resolve));

export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description(
      "Reconstruct every record's journey from the workflow history and the store, and verify the batch: input SHA-256, one disposition per record, ledger rows, ledger hash, decisions. Exits 1 if anything is inconsistent.",
    )
    .argument('<batchId>')
    .option('--json', 'one JSON document: the verdict, checks, counts, decisions and every record')
    .option('--csv', 'one CSV row per record (cells are safe against spreadsheet formula injection)')
    .option('--evidence <file>', 'also write a Markdown evidence pack for a compliance file')
    .action(async (batchId, opts) => {
      if (opts.json && opts.csv) throw new UsageError('give at most one of --json and --csv');
      const env = loadEnv();
      const sluice = await SluiceClient.connect(env);
      const db = createDb(env.databaseUrl, { max: 2, applicationName: 'sluice-audit' });
      const out = process.stdout;
      const exceptions: RecordJourney[] = [];
      let exceptionsTotal = 0;
      let first = true;
      try {
        if (opts.csv) await write(out, `${CSV_COLUMNS.join(',')}\n`);
        if (opts.json) await write(out, '{"records":[\n');
        const report = await auditBatch(
          { db, blobs: createLocalBlobStore(env.blobDir), temporal: sluice.temporal, getProfile },
          batchId,
          async (j) => {
            if (j.status !== 'committed' || j.heldReason) {
              exceptionsTotal += 1;
              if (exceptions.length < EVIDENCE_EXCEPTIONS) exceptions.push(j);
            }
            if (opts.csv) await write(out, `${csvRow(j)}\n`);
            if (opts.json) {
              await write(out, `${first ? '' : ',\n'}${JSON.stringify(j)}`);
              first = false;
            }
          },
        );
        const { checks, ...summary } = report;
        if (opts.json) await write(out, `\n],\n"audit":${JSON.stringify({ ...summary, checks })}}\n`);
        if (opts.evidence) {
          const file = createWriteStream(opts.evidence);
          await write(file, evidenceMarkdown(report, exceptions, exceptionsTotal));
          await new Promise((resolve) => file.end(resolve));
          log(`evidence pack written to ${opts.evidence}`);
        }
        const verdict = [
          `audit of ${report.batchId}: ${report.ok ? 'CONSISTENT' : 'INCONSISTENT'}`,
          ...checks.map((c) => `  ${c.ok ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`),
          `  ledger hash ${report.ledgerHash}`,
        ].join('\n');
        if (opts.json || opts.csv) log(verdict);
        else process.stdout.write(`${verdict}\n`);
        process.exitCode = report.ok ? EXIT.ok : EXIT.failed;
      } finally {
        await db.end();
        await sluice.close();
      }
    });
}
