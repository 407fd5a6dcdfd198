/**
 * DRILL-ONLY fault hooks around the commit stage (issue #5, `npm run drill`). They do nothing unless the worker runs
 * with `SLUICE_DRILL_FAULT` set to a JSON object; never set it outside a drill.
 *
 *   { "stallAfterCommitMs"?: number,   after the chunk's transaction committed, before the activity returns: write the
 *                                      marker `<markerDir>/<batchId>-<chunkNo>-committed`, then sleep (no heartbeats),
 *                                      so that a drill can SIGKILL this worker between commit and completion
 *     "stallBeforeCommitMs"?: number,  before the commit: write `<markerDir>/<batchId>-<chunkNo>-stalled`, sleep without
 *                                      heartbeating (the attempt outlives its timeout), then commit late
 *     "chunks"?: number[],             only these chunk numbers (default: every chunk)
 *     "onlyAttempt"?: number,          only this activity attempt (default: every attempt)
 *     "markerDir"?: string }           where markers go (default: no markers)
 *
 * A marker holds `{ pid, batchId, chunkNo, attempt, at }`, so that the drill knows which process to kill. The sleeps
 * are plain timers: cancelling the activity does not cut them short, as a stuck process would not notice either.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';

export const DRILL_FAULT_ENV = 'SLUICE_DRILL_FAULT';

export interface DrillFault {
  stallAfterCommitMs?: number;
  stallBeforeCommitMs?: number;
  chunks?: number[];
  onlyAttempt?: number;
  markerDir?: string;
}

let parsed: DrillFault | null | undefined;

/** The fault configured for this process, or null (the normal case). A malformed setting is an error at once. */
export function drillFault(env: NodeJS.ProcessEnv = process.env): DrillFault | null {
  if (parsed !== undefined && env === process.env) return parsed;
  const raw = env[DRILL_FAULT_ENV];
  let fault: DrillFault | null = null;
  if (raw) {
    try {
      fault = JSON.parse(raw) as DrillFault;
    } catch (err) {
      throw new Error(`${DRILL_FAULT_ENV} is not JSON: ${(err as Error).message}`);
    }
    if (typeof fault !== 'object' || fault === null) throw new Error(`${DRILL_FAULT_ENV} must be a JSON object`);
  }
  if (env === process.env) parsed = fault;
  return fault;
}

interface ChunkAt {
  batchId: string;
  chunkNo: number;
}

function applies(fault: DrillFault, ref: ChunkAt, attempt: number): boolean {
  if (fault.chunks && !fault.chunks.includes(ref.chunkNo)) return false;
  if (fault.onlyAttempt !== undefined && fault.onlyAttempt !== attempt) return false;
  return true;
}

function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1; // outside an activity (a direct call)
  }
}

function writeMarker(fault: DrillFault, ref: ChunkAt, what: string, attempt: number): void {
  if (!fault.markerDir) return;
  mkdirSync(fault.markerDir, { recursive: true });
  const file = path.join(fault.markerDir, `${ref.batchId}-${ref.chunkNo}-${what}`);
  const body = JSON.stringify({ pid: process.pid, ...ref, attempt, at: new Date().toISOString() });
  // Written whole, then renamed: a drill polling for the file never reads half of it.
  writeFileSync(`${file}.${process.pid}.tmp`, body);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** Called by the commit stage just before its transaction. */
export async function beforeCommitFault(ref: ChunkAt): Promise<void> {
  const fault = drillFault();
  if (!fault?.stallBeforeCommitMs) return;
  const attempt = currentAttempt();
  if (!applies(fault, ref, attempt)) return;
  writeMarker(fault, ref, 'stalled', attempt);
  await sleep(fault.stallBeforeCommitMs);
}

/** Called by the commit stage after its transaction committed, before the activity returns. */
export async function afterCommitFault(ref: ChunkAt): Promise<void> {
  const fault = drillFault();
  if (!fault?.stallAfterCommitMs) return;
  const attempt = currentAttempt();
  if (!applies(fault, ref, attempt)) return;
  writeMarker(fault, ref, 'committed', attempt);
  await sleep(fault.stallAfterCommitMs);
}
