/**
 * The five invariants a drill checks for each batch it ran, and whether its fault landed:
 *
 * - accounting: every input record has exactly one disposition, and the counts (in the store and in the report)
 *   equal the generator's oracle;
 * - no duplicates: no idempotency key or record twice in the ledger, ledger and committed dispositions match one to
 *   one, each chunk committed once, and running a chunk's commit again (and resubmitting the file) changes nothing;
 * - content: a hash over the committed rows' business keys and the sum of a numeric field equal the oracle's;
 * - liveness: within a limit after the scenario returns, the batch is completed or awaits review with nothing in
 *   flight, and none of its chunk workflows runs;
 * - replay: every history of the batch (each run of the batch workflow, each chunk child run) replays against
 *   today's workflow code without a determinism error.
 *
 * A fault landed when the same histories show a retry (an activity attempt > 1, a timed-out or failed activity or
 * workflow task, a retried chunk run, a local activity that needed a second attempt).
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type pg from 'pg';
import { createActivities } from '../../src/activities/index.ts';
import type { SluiceClient } from '../../src/client/sluice-client.ts';
import { committedKeyHash } from '../../src/profiles/generator-kit.ts';
import { getProfile } from '../../src/profiles/index.ts';
import type { ExpectedOutcome } from '../../src/profiles/types.ts';
import type { BatchConfig, BatchReport } from '../../src/shared/contracts.ts';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import { createLocalBlobStore } from '../../src/store/blobs.ts';
import { ledgerHash } from '../../src/store/ledger.ts';
import { WORKFLOWS_PATH } from '../../src/workers/worker.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface BatchUnderTest {
  batchId: string;
  expected: ExpectedOutcome;
}

/** What the checks read: the drill stack's Temporal (through the client), PostgreSQL and blob store. */
export interface CheckEnv {
  client: SluiceClient;
  db: pg.Pool;
  blobDir: string;
}

type History = temporal.api.history.v1.IHistory;
export interface BatchHistory {
  workflowId: string;
  runId: string;
  history: History;
}

// @temporalio/proto is CommonJS: its namespaces come with the default import.
const EventType = proto.temporal.api.enums.v1.EventType;
const SETTLED_STATUSES: readonly string[] = ['completed', 'awaiting_review'];

const check = (name: string, batchId: string, problems: string[], summary: string): CheckResult => ({
  name,
  ok: problems.length === 0,
  detail: `${batchId}: ${problems.length === 0 ? summary : problems.join('; ')}`,
});

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------------------------
// Liveness

/** The chunk workflows of a batch that are still running (by workflow id prefix). */
export async function runningChunks(client: Client, batchId: string): Promise<string[]> {
  const prefix = `${batchWorkflowId(batchId)}/chunk-`;
  const ids: string[] = [];
  for await (const wf of client.workflow.list({
    query: `ExecutionStatus = "Running" AND WorkflowId STARTS_WITH "${prefix}"`,
  })) {
    ids.push(wf.workflowId);
  }
  return ids;
}

interface LiveState {
  done: boolean;
  /** Final: waiting longer cannot help (the batch workflow closed without completing). */
  hopeless: boolean;
  state: string;
}

async function liveState(env: CheckEnv, batchId: string): Promise<LiveState> {
  const handle = env.client.temporal.workflow.getHandle(batchWorkflowId(batchId));
  const desc = await handle.describe();
  let batchDone = false;
  let state = `workflow ${desc.status.name}`;
  if (desc.status.name === 'COMPLETED') batchDone = true;
  else if (desc.status.name === 'RUNNING') {
    const p = await env.client.progress(batchId);
    state = `status ${p.status}, ${p.chunksDone}/${p.chunks} chunks done, ${p.chunksInFlight} in flight`;
    batchDone = p.status === 'awaiting_review' && p.chunksInFlight === 0;
  } else {
    return { done: false, hopeless: true, state };
  }
  const running = await runningChunks(env.client.temporal, batchId);
  if (running.length > 0) state += `; running chunk workflows: ${running.slice(0, 5).join(', ')}`;
  return { done: batchDone && running.length === 0, hopeless: false, state };
}

/**
 * Waits until `deadline` (epoch ms) for the batch to be completed, or awaiting review with nothing in flight, and for
 * none of its chunk workflows to run. Temporal or the workers being briefly unreachable only means waiting on.
 */
export async function checkLiveness(env: CheckEnv, batch: BatchUnderTest, deadline: number): Promise<CheckResult> {
  const started = Date.now();
  let last = 'not checked';
  for (;;) {
    try {
      const s = await liveState(env, batch.batchId);
      last = s.state;
      if (s.done) {
        return check('liveness', batch.batchId, [], `${s.state} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
      if (s.hopeless) return check('liveness', batch.batchId, [s.state], '');
    } catch (err) {
      last = `could not read its state: ${errorText(err)}`;
    }
    if (Date.now() >= deadline) {
      const limit = ((deadline - started) / 1000).toFixed(0);
      return check('liveness', batch.batchId, [`not settled within ${limit} s: ${last}`], '');
    }
    await sleep(1_000);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Accounting

interface DispositionCounts {
  n: number;
  lo: number | null;
  hi: number | null;
  committed: number;
  approved: number;
  duplicates: number;
  heldDuplicates: number;
  held: number;
  pending: number;
  rejected: number;
}

async function dispositionCounts(db: pg.Pool, batchId: string): Promise<DispositionCounts> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n, min(record_no)::int AS lo, max(record_no)::int AS hi,
            count(*) FILTER (WHERE status = 'committed')::int AS committed,
            count(*) FILTER (WHERE status = 'approved')::int AS approved,
            count(*) FILTER (WHERE status = 'duplicate' AND NOT held)::int AS duplicates,
            count(*) FILTER (WHERE status = 'duplicate' AND held)::int AS "heldDuplicates",
            count(*) FILTER (WHERE held)::int AS held,
            count(*) FILTER (WHERE status = 'quarantined')::int AS pending,
            count(*) FILTER (WHERE status = 'rejected')::int AS rejected
       FROM record_disposition WHERE batch_id = $1`,
    [batchId],
  );
  return rows[0] as DispositionCounts;
}

/** The batch report as a client sees it (live from the workflow while it awaits review). */
async function reportOf(env: CheckEnv, batchId: string): Promise<BatchReport> {
  let lastError: unknown;
  for (let i = 0; i < 5; i++) {
    try {
      return await env.client.getBatchStatus(batchId);
    } catch (err) {
      lastError = err;
      await sleep(1_000);
    }
  }
  throw lastError;
}

export async function checkAccounting(env: CheckEnv, batch: BatchUnderTest): Promise<CheckResult> {
  const { batchId, expected } = batch;
  const problems: string[] = [];
  const d = await dispositionCounts(env.db, batchId);
  const n = expected.records;
  // (batch_id, record_no) is the primary key, so n rows spanning 1..n are each record exactly once.
  if (d.n !== n || (n > 0 && (d.lo !== 1 || d.hi !== n))) {
    problems.push(`dispositions: ${d.n} rows over records ${d.lo}..${d.hi}, expected one for each of 1..${n}`);
  }
  const want = (what: string, got: number, exp: number) => {
    if (got !== exp) problems.push(`${what} ${got}, oracle ${exp}`);
  };
  want('committed dispositions', d.committed, expected.committed);
  want('duplicate dispositions', d.duplicates, expected.duplicates);
  want('held dispositions', d.held, expected.quarantined);

  const { rows: reasons } = await env.db.query<{ reason_code: string; n: number }>(
    `SELECT reason_code, count(*)::int AS n FROM record_disposition WHERE batch_id = $1 AND held GROUP BY reason_code`,
    [batchId],
  );
  const byReason = Object.fromEntries(reasons.map((r) => [r.reason_code, r.n]));
  for (const reason of new Set([...Object.keys(byReason), ...Object.keys(expected.byReason)])) {
    want(`held for ${reason}`, byReason[reason] ?? 0, expected.byReason[reason] ?? 0);
  }

  let report: BatchReport | undefined;
  try {
    report = await reportOf(env, batchId);
  } catch (err) {
    problems.push(`no report: ${errorText(err)}`);
  }
  if (report) {
    const expectedStatus = d.pending > 0 ? 'awaiting_review' : 'completed';
    if (report.status !== expectedStatus) {
      problems.push(
        `report status ${report.status}${report.error ? ` (${report.error})` : ''}, expected ${expectedStatus}`,
      );
    }
    want('report records', report.records, n);
    want('report committed without review', report.committed - report.approved, expected.committed);
    want('report duplicates', report.duplicates, d.duplicates + d.heldDuplicates);
    want('report quarantined', report.quarantined, expected.quarantined);
    want('report pending review', report.pendingReview, d.pending);
    want('report rejected', report.rejected, d.rejected);
    const sum = report.committed + report.duplicates + report.rejected + report.pendingReview;
    if (SETTLED_STATUSES.includes(report.status) && sum !== report.records) {
      problems.push(`report: committed + duplicates + rejected + pendingReview = ${sum}, records ${report.records}`);
    }
  }
  return check(
    'accounting',
    batchId,
    problems,
    `${n} records, one disposition each; committed ${d.committed}, duplicates ${d.duplicates}, held ${d.held} ` +
      `(${d.pending} pending) as the oracle says; report ${report?.status ?? '?'} agrees`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// No duplicates

/** SHA-256 over every disposition of the batch (record, status, key, decision): changes when any of them changes. */
async function dispositionDigest(db: pg.Pool, batchId: string): Promise<string> {
  const { rows } = await db.query<{ line: string }>(
    `SELECT concat_ws(E'\\t', record_no, chunk_no, status, idempotency_key, business_key, held, reason_code, decision_id)
              AS line
       FROM record_disposition WHERE batch_id = $1 ORDER BY record_no`,
    [batchId],
  );
  const hash = createHash('sha256');
  for (const r of rows) hash.update(`${r.line}\n`);
  return hash.digest('hex');
}

interface StoredBatch {
  sha256: string;
  fileName: string;
  profile: string;
  config: BatchConfig;
  chunks: number;
}

async function storedBatch(db: pg.Pool, batchId: string): Promise<StoredBatch | undefined> {
  const { rows } = await db.query(
    `SELECT sha256, file_name AS "fileName", profile, config, chunks FROM batch WHERE batch_id = $1`,
    [batchId],
  );
  return rows[0] as StoredBatch | undefined;
}

/**
 * Runs the commit activity of `chunkNo` again, as a retry after a lost completion would, in an activity context of
 * its own (attempt 2). Returns the counts it reports.
 */
async function recommitChunk(env: CheckEnv, batchId: string, stored: StoredBatch, chunkNo: number): Promise<unknown> {
  const activities = createActivities({ db: env.db, blobs: createLocalBlobStore(env.blobDir), getProfile });
  const ref = { batchId, profile: stored.profile, sha256: stored.sha256, chunkNo };
  const mock = new MockActivityEnvironment({ attempt: 2 });
  return mock.run(activities.commitChunk, ref);
}

export async function checkNoDuplicates(
  env: CheckEnv,
  batch: BatchUnderTest,
  opts: { recommit?: boolean } = {},
): Promise<CheckResult> {
  const { batchId } = batch;
  const problems: string[] = [];
  const { db } = env;
  await db.query('ANALYZE ledger, record_disposition');

  const twice = await db.query(
    `SELECT record_no, count(*)::int AS n FROM ledger WHERE batch_id = $1 GROUP BY record_no HAVING count(*) > 1 LIMIT 5`,
    [batchId],
  );
  if (twice.rowCount) problems.push(`records with several ledger rows: ${JSON.stringify(twice.rows)}`);
  // The primary key forbids a key twice; a key committed by two batches would show as a row of another batch here.
  const keysTwice = await db.query(
    `SELECT idempotency_key, count(*)::int AS n FROM ledger
      WHERE idempotency_key IN (SELECT idempotency_key FROM ledger WHERE batch_id = $1)
      GROUP BY idempotency_key HAVING count(*) > 1 LIMIT 5`,
    [batchId],
  );
  if (keysTwice.rowCount) problems.push(`idempotency keys twice in the ledger: ${JSON.stringify(keysTwice.rows)}`);

  const committedWithoutRow = await db.query<{ n: number; example: string | null }>(
    `SELECT count(*)::int AS n, min(d.record_no)::text AS example FROM record_disposition d
       LEFT JOIN ledger l ON l.batch_id = d.batch_id AND l.record_no = d.record_no AND l.idempotency_key = d.idempotency_key
      WHERE d.batch_id = $1 AND d.status IN ('committed', 'approved') AND l.idempotency_key IS NULL`,
    [batchId],
  );
  if (committedWithoutRow.rows[0]!.n > 0) {
    const r = committedWithoutRow.rows[0]!;
    problems.push(`${r.n} committed disposition(s) without their own ledger row (e.g. record ${r.example})`);
  }
  const rowWithoutCommitted = await db.query<{ n: number; example: string | null }>(
    `SELECT count(*)::int AS n, min(l.record_no)::text AS example FROM ledger l
       LEFT JOIN record_disposition d ON d.batch_id = l.batch_id AND d.record_no = l.record_no
      WHERE l.batch_id = $1 AND (d.status IS NULL OR d.status NOT IN ('committed', 'approved')
                                 OR d.idempotency_key IS DISTINCT FROM l.idempotency_key)`,
    [batchId],
  );
  if (rowWithoutCommitted.rows[0]!.n > 0) {
    const r = rowWithoutCommitted.rows[0]!;
    problems.push(`${r.n} ledger row(s) without a committed disposition (e.g. record ${r.example})`);
  }

  const stored = await storedBatch(db, batchId);
  if (!stored) return check('no duplicates', batchId, [...problems, 'batch not in the store'], '');
  const commits = await db.query<{ chunk_no: number; n: number }>(
    `SELECT chunk_no, count(*)::int AS n FROM audit_event WHERE batch_id = $1 AND event = 'chunk_committed'
      GROUP BY chunk_no`,
    [batchId],
  );
  const committedTwice = commits.rows.filter((r) => r.n > 1);
  if (committedTwice.length > 0) {
    problems.push(
      `chunks committed more than once: ${committedTwice.map((r) => `${r.chunk_no} (${r.n}x)`).join(', ')}`,
    );
  }

  let replayed = 'no committed chunk to commit again';
  if (opts.recommit !== false) {
    const before = { ledger: await ledgerHash(db, batchId), dispositions: await dispositionDigest(db, batchId) };
    // Chunks whose records have dispositions, i.e. that were committed (whatever their commit marker says).
    const { rows: done } = await db.query<{ chunk_no: number; counts: Record<string, number> | null }>(
      `SELECT c.chunk_no, c.counts FROM batch_chunk c
        WHERE c.batch_id = $1
          AND EXISTS (SELECT 1 FROM record_disposition d WHERE d.batch_id = c.batch_id AND d.chunk_no = c.chunk_no)
        ORDER BY c.chunk_no`,
      [batchId],
    );
    // The first and the last committed chunk: one at the start of the batch, one that may have been under the fault.
    const chosen = [...new Set([done[0], done[done.length - 1]].filter((c) => c !== undefined))];
    for (const c of chosen) {
      try {
        const counts = (await recommitChunk(env, batchId, stored, c.chunk_no)) as Record<string, number>;
        for (const k of ['records', 'committed', 'duplicates', 'quarantined'] as const) {
          if (counts[k] !== c.counts?.[k]) {
            problems.push(`commit of chunk ${c.chunk_no} run again reports ${k} ${counts[k]}, first ${c.counts?.[k]}`);
          }
        }
      } catch (err) {
        problems.push(`commit of chunk ${c.chunk_no} run again failed: ${errorText(err)}`);
      }
    }
    // Resubmitting the same bytes must find the batch, not start (or commit) anything.
    const file = await createLocalBlobStore(env.blobDir).localPath(stored.sha256);
    const again = await env.client.submitBatch({
      file: path.resolve(file),
      profile: stored.profile,
      batchId,
      config: stored.config,
    });
    if (again.started) problems.push('resubmitting the same file started a new batch workflow');
    const after = { ledger: await ledgerHash(db, batchId), dispositions: await dispositionDigest(db, batchId) };
    if (after.ledger.hash !== before.ledger.hash || after.ledger.rows !== before.ledger.rows) {
      problems.push(
        `ledger changed when commits ran again: ${before.ledger.rows} rows ${before.ledger.hash.slice(0, 12)} -> ` +
          `${after.ledger.rows} rows ${after.ledger.hash.slice(0, 12)}`,
      );
    }
    if (after.dispositions !== before.dispositions) problems.push('dispositions changed when commits ran again');
    replayed =
      `commit of chunk(s) ${chosen.map((c) => c.chunk_no).join(', ')} run again and the file resubmitted: ` +
      `ledger hash ${after.ledger.hash.slice(0, 12)} (${after.ledger.rows} rows) unchanged`;
  }
  return check(
    'no duplicates',
    batchId,
    problems,
    `no key or record twice; ledger and committed dispositions match; each chunk committed once; ${replayed}`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Content

export async function checkContent(env: CheckEnv, batch: BatchUnderTest): Promise<CheckResult> {
  const { batchId, expected } = batch;
  const problems: string[] = [];
  const notes: string[] = [];
  const committedRows = `FROM ledger l JOIN record_disposition d ON d.batch_id = l.batch_id AND d.record_no = l.record_no
                         WHERE l.batch_id = $1 AND d.status = 'committed'`;
  if (expected.committedKeyHash) {
    const { rows } = await env.db.query<{ business_key: string }>(`SELECT l.business_key ${committedRows}`, [batchId]);
    const hash = committedKeyHash(rows.map((r) => r.business_key));
    if (hash !== expected.committedKeyHash) {
      problems.push(
        `hash over ${rows.length} committed business keys ${hash.slice(0, 12)}, oracle ${expected.committedKeyHash.slice(0, 12)}`,
      );
    } else notes.push(`key hash ${hash.slice(0, 12)} over ${rows.length} rows`);
  } else notes.push('no key hash in the oracle');
  if (expected.committedSum) {
    const field = expected.committedSum.field.split('.');
    const { rows } = await env.db.query<{ got: string; equal: boolean }>(
      `SELECT coalesce(sum((l.payload #>> $2::text[])::numeric), 0)::text AS got,
              coalesce(sum((l.payload #>> $2::text[])::numeric), 0) = $3::numeric AS equal ${committedRows}`,
      [batchId, field, expected.committedSum.value],
    );
    const r = rows[0]!;
    if (!r.equal)
      problems.push(`sum of ${expected.committedSum.field} ${r.got}, oracle ${expected.committedSum.value}`);
    else notes.push(`sum of ${expected.committedSum.field} ${r.got}`);
  } else notes.push('no sum in the oracle');
  if (!expected.committedKeyHash && !expected.committedSum) problems.push('the oracle has no content to compare');
  return check('content', batchId, problems, `${notes.join(', ')}, as the oracle says`);
}

// ---------------------------------------------------------------------------------------------------------------
// Histories, replay, retries

async function runsOf(client: Client, query: string): Promise<BatchHistory[]> {
  const out: BatchHistory[] = [];
  for await (const wf of client.workflow.list({ query })) {
    const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    out.push({ workflowId: wf.workflowId, runId: wf.runId, history });
  }
  return out;
}

/** Every run of the batch workflow (continue-as-new makes several) and of each chunk child (retries make several). */
export async function batchHistories(client: Client, batchId: string): Promise<BatchHistory[]> {
  const id = batchWorkflowId(batchId);
  const batchRuns = await runsOf(client, `WorkflowId = "${id}"`);
  const chunkRuns = await runsOf(client, `WorkflowId STARTS_WITH "${id}/chunk-"`);
  return [...batchRuns, ...chunkRuns];
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** The project's workflow code, bundled once per process (as test/unit/replay.test.ts does). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  return bundle;
}

/** Replays `histories` against the project's workflow code (or `bundle`, e.g. a deliberately changed one). */
export async function checkReplay(
  histories: BatchHistory[],
  bundle?: WorkflowBundleWithSourceMap,
): Promise<CheckResult> {
  const problems: string[] = [];
  let replayed = 0;
  if (histories.length === 0) problems.push('no histories found');
  else {
    const results = Worker.runReplayHistories(
      { workflowBundle: bundle ?? (await workflowBundle()), replayName: 'sluice-drill' },
      histories.map((h) => ({ workflowId: h.workflowId, history: h.history })),
    );
    for await (const r of results) {
      replayed += 1;
      if (r.error) problems.push(`${r.workflowId} (run ${r.runId}): ${r.error.name}: ${r.error.message}`);
    }
  }
  const workflows = new Set(histories.map((h) => h.workflowId)).size;
  return {
    name: 'replay',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `${replayed} run(s) of ${workflows} workflow(s) replay without a determinism error`
        : problems.slice(0, 5).join('; '),
  };
}

function attemptOfMarker(event: temporal.api.history.v1.IHistoryEvent): number {
  const payload = event.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
  if (!payload) return 1;
  try {
    const data = JSON.parse(Buffer.from(payload).toString('utf8')) as { attempt?: number };
    return data.attempt ?? 1;
  } catch {
    return 1;
  }
}

/**
 * Activities that failed for good (an ActivityTaskFailed event is written only once no retry is left: a
 * non-retryable failure or the last attempt), as `<workflow>: <activity>: <type>: <message> (<retry state>)` lines.
 */
export function finalActivityFailures(histories: BatchHistory[]): string[] {
  const found: string[] = [];
  for (const { workflowId, history } of histories) {
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
        scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
      } else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED) {
        const a = e.activityTaskFailedEventAttributes;
        const type = a?.failure?.applicationFailureInfo?.type ?? '?';
        const state = proto.temporal.api.enums.v1.RetryState[a?.retryState ?? 0] ?? String(a?.retryState);
        found.push(
          `${workflowId.replace(/^sluice-batch-/, '')}: ${scheduled.get(String(a?.scheduledEventId)) ?? '?'}: ` +
            `${type}: ${a?.failure?.message ?? ''} (${state})`,
        );
      }
    }
  }
  return found;
}

/** Every sign of a retry in the histories, as `<workflow>: <what>` lines. */
export function retriesIn(histories: BatchHistory[]): string[] {
  const found: string[] = [];
  for (const { workflowId, history } of histories) {
    const short = workflowId.replace(/^sluice-batch-/, '');
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      const id = String(e.eventId);
      switch (e.eventType) {
        case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
          const attempt = e.workflowExecutionStartedEventAttributes?.attempt ?? 1;
          if (attempt > 1) found.push(`${short}: run attempt ${attempt}`);
          break;
        }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
          scheduled.set(id, e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');
          break;
        case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
          const a = e.activityTaskStartedEventAttributes;
          if ((a?.attempt ?? 1) > 1) {
            const name = scheduled.get(String(a?.scheduledEventId)) ?? '?';
            const cause = a?.lastFailure?.message ? ` (last failure: ${a.lastFailure.message.slice(0, 120)})` : '';
            found.push(`${short}: ${name} attempt ${a?.attempt}${cause}`);
          }
          break;
        }
        case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
          found.push(`${short}: activity timed out`);
          break;
        case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
          found.push(`${short}: activity failed (${e.activityTaskFailedEventAttributes?.failure?.message ?? ''})`);
          break;
        case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
        case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
          found.push(`${short}: child workflow ${EventType[e.eventType!]}`);
          break;
        case EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
          found.push(`${short}: workflow task timed out`);
          break;
        case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
          found.push(`${short}: workflow task failed (${e.workflowTaskFailedEventAttributes?.failure?.message ?? ''})`);
          break;
        case EventType.EVENT_TYPE_MARKER_RECORDED: {
          const attempt = attemptOfMarker(e);
          if (attempt > 1) found.push(`${short}: local activity attempt ${attempt}`);
          break;
        }
        default:
          break;
      }
    }
  }
  return found;
}
