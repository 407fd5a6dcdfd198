/** `sluice review list | show | decide`. */
import { createHash } from 'node:crypto';
import type { Command } from '@commander-js/extra-typings';
import { SluiceClient } from '../../client/sluice-client.ts';
import { loadEnv } from '../../config/env.ts';
import type { ReviewDecision } from '../../shared/contracts.ts';
import { checkReviewDecision } from '../../shared/review-decision.ts';
import { getBatch } from '../../store/batches.ts';
import { createDb } from '../../store/db.ts';
import { listPending } from '../../store/review.ts';
import { UsageError, printJson } from '../output.ts';

export function registerReviewCommands(program: Command): void {
  const review = program.command('review').description('Find, inspect and decide records held for review.');

  review
    .command('list')
    .description('Batches with records waiting for review (search attribute SluicePendingReview > 0).')
    .option('--json', 'print one JSON document on stdout')
    .action(async (opts) => {
      const sluice = await SluiceClient.connect(loadEnv());
      try {
        const waiting = await sluice.listAwaitingReview();
        if (opts.json) return printJson(waiting);
        if (waiting.length === 0) return void process.stdout.write('no batch is waiting for review\n');
        for (const w of waiting) {
          process.stdout.write(`${w.batchId}\t${w.profile}\t${w.pendingReview} pending\tsince ${w.startedAt}\n`);
        }
      } finally {
        await sluice.close();
      }
    });

  review
    .command('show')
    .description('Held records of a batch, grouped by reason, with each field-level issue.')
    .argument('<batchId>')
    .option('--reason-code <code>', 'only records held for this reason')
    .option('--limit <n>', 'records to list', '50')
    .option('--json', 'print one JSON document on stdout')
    .action(async (batchId, opts) => {
      const env = loadEnv();
      const sluice = await SluiceClient.connect(env);
      const db = createDb(env.databaseUrl, { max: 1, applicationName: 'sluice-cli' });
      try {
        const view = await sluice.pendingReview(batchId);
        const batch = await getBatch(db, batchId);
        const records = await listPending(db, batchId, {
          limit: Number(opts.limit),
          ...(opts.reasonCode ? { reasonCode: opts.reasonCode } : {}),
        });
        if (opts.json) return printJson({ batchId, file: batch?.fileName ?? null, ...view, records });
        // Text: groups, then every listed record with its issues, then how to decide.
        const out: string[] = [
          `batch ${batchId}: ${view.pendingReview} record(s) pending, deadline ${view.reviewDeadline}`,
        ];
        for (const g of view.groups) {
          out.push(`  ${g.reasonCode}  ${g.errorSignature}: ${g.count} (e.g. records ${g.firstRecords.join(', ')})`);
        }
        out.push('');
        for (const r of records) {
          const where = [r.location.file, r.location.line ? `line ${r.location.line}` : null].filter(Boolean).join(' ');
          out.push(`record ${r.recordNo} (${where}) ${r.reasonCode}`);
          for (const i of r.issues)
            out.push(
              `    ${i.path || '(record)'}: ${i.message}${i.value !== undefined ? ` [value: ${JSON.stringify(i.value)}]` : ''}`,
            );
        }
        if (view.example) {
          const approvable = [...new Set(view.groups.filter((g) => g.approvable).map((g) => g.reasonCode))];
          out.push(
            '',
            `approve commits records held by a business rule (${approvable.join(', ') || 'none here'}); records that`,
            'fail validation must be amended (--amend \'{"field":"value"}\') or rejected. For example:',
            `  sluice review decide ${batchId} --records ${records[0]?.recordNo ?? 1} --reject --reviewer <name> --note <why>`,
          );
          out.push('or send the signal "review" from the Temporal UI with:', `  ${JSON.stringify(view.example)}`);
        }
        process.stdout.write(`${out.join('\n')}\n`);
      } finally {
        await db.end();
        await sluice.close();
      }
    });

  review
    .command('decide')
    .description('Approve, amend or reject held records (by record numbers, reason code, error signature, or all).')
    .argument('<batchId>')
    .option('--records <n,..>', 'record numbers, comma-separated')
    .option('--reason-code <code>', 'every record held for this reason')
    .option('--error-signature <sig>', 'every record with this error signature, e.g. quantity:not_integer')
    .option('--all', 'every held record')
    .option('--approve', 'commit the records as they are (classification holds)')
    .option('--reject', 'reject the records: they are never committed')
    .option('--amend <json>', 'patch the fields, re-validate, and commit those that pass, e.g. {"location":"CHEM-101"}')
    .requiredOption('--reviewer <name>', 'who decides (recorded in history and audit)')
    .option('--note <text>', 'why (recorded in history and audit)')
    .option('--decision-id <id>', 'idempotency key of the decision; default derived from its content')
    .option('--json', 'print one JSON document on stdout')
    .action(async (batchId, opts) => {
      const actions = [opts.approve && 'approve', opts.reject && 'reject', opts.amend !== undefined && 'amend'].filter(
        Boolean,
      ) as ReviewDecision['action'][];
      if (actions.length !== 1) throw new UsageError('give exactly one of --approve, --reject, --amend <json>');
      const decision: Record<string, unknown> = { action: actions[0], reviewer: opts.reviewer };
      if (opts.note !== undefined) decision.note = opts.note;
      if (opts.records !== undefined) decision.records = opts.records.split(',').map((s) => Number(s.trim()));
      if (opts.reasonCode !== undefined) decision.reasonCode = opts.reasonCode;
      if (opts.errorSignature !== undefined) decision.errorSignature = opts.errorSignature;
      if (opts.all) decision.all = true;
      if (opts.amend !== undefined) {
        try {
          decision.patch = JSON.parse(opts.amend);
        } catch {
          throw new UsageError(`--amend: not JSON: ${opts.amend}`);
        }
      }
      decision.decisionId =
        opts.decisionId ??
        `cli-${createHash('sha256')
          .update(JSON.stringify([batchId, decision]))
          .digest('hex')
          .slice(0, 16)}`;
      const check = checkReviewDecision(decision);
      if (!check.ok) throw new UsageError(`decision: ${check.error}`);
      const sluice = await SluiceClient.connect(loadEnv());
      try {
        const outcome = await sluice.decide(batchId, check.decision);
        if (opts.json) return printJson(outcome);
        process.stdout.write(
          `${outcome.applied ? 'applied' : 'already applied (nothing changed)'}: decision ${outcome.decisionId}\n` +
            `  selected ${outcome.selected}, approved ${outcome.approved}, rejected ${outcome.rejected}, ` +
            `duplicates ${outcome.duplicates}, still held ${outcome.stillHeld}\n` +
            `  batch now: committed ${outcome.counts.committed}, pending ${outcome.counts.pendingReview}\n`,
        );
      } finally {
        await sluice.close();
      }
    });
}
