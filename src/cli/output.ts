/**
 * CLI conventions: results on stdout (one JSON document with --json), logs and progress on stderr, exit code 0 on
 * success, 1 on a failed batch or command, 2 on bad usage.
 */
import cliProgress from 'cli-progress';
import type { BatchProgress, BatchReport } from '../shared/contracts.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the CLI reports as exit code 1 with this message. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

export const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printReport(r: BatchReport): void {
  const lines = [
    `batch      ${r.batchId}  (${r.profile}, ${r.status})`,
    `workflow   ${r.workflowId}`,
    `input      sha256 ${r.sha256}`,
    `records    ${r.records} in ${r.chunks} chunk(s)`,
    `committed  ${r.committed}   duplicates ${r.duplicates}   quarantined ${r.quarantined}`,
    `review     approved ${r.approved}   rejected ${r.rejected}   pending ${r.pendingReview}`,
    `time       ${r.startedAt ?? '-'} -> ${r.finishedAt ?? '(running)'}`,
  ];
  if (r.error) lines.push(`error      ${r.error}`);
  if (r.stopReason) lines.push(`stopped    ${r.stopReason}; ${r.notProcessed ?? 0} record(s) not processed`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** A progress bar on stderr: records with an outcome / records planned. Quiet when stderr is not a terminal. */
export function progressBar(label: string): { update(p: BatchProgress): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {value}/{total} records | chunks {chunksDone}/{chunks} | {status}`,
      hideCursor: true,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = { chunksDone: p.chunksDone, chunks: p.chunks, status: p.status };
      if (!started) {
        bar.start(Math.max(p.plannedRecords, 1), 0, payload);
        started = true;
      }
      bar.setTotal(Math.max(p.plannedRecords, 1));
      bar.update(p.counts.records, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A failed batch, and one stopped by its tolerated failure thresholds, exit 1. */
export const exitCodeOf = (r: BatchReport): number =>
  r.status === 'failed' || r.status === 'stopped' ? EXIT.failed : EXIT.ok;
