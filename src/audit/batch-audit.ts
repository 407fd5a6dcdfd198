/**
 * `sluice audit`: reconstructs every record's journey from the workflow histories (fetched through the client) and
 * the store, and verifies the batch: the input's SHA-256; one disposition per input record; ledger rows that match the
 * committed dispositions and what the input (plus any amendment) says; the ledger hash against the one the completed
 * workflow recorded in its history; and that every applied decision arrived through the workflow.
 *
 * Records are streamed chunk by chunk to `onRecord`, so a batch of millions audits in bounded memory.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { createHash } from 'node:crypto';
import type { Profile } from '../profiles/types.ts';
import type { BatchReport, RecordCounts } from '../shared/contracts.ts';
import { chunkWorkflowId } from '../shared/task-queues.ts';
import type { BatchEvent, DecisionRow } from '../store/audit-trail.ts';
import {
  batchEvents,
  dispositionSummary,
  dispositionsInRange,
  ledgerRowsOutside,
  reviewDecisions,
} from '../store/audit-trail.ts';
import type { BatchRow } from '../store/batches.ts';
import { profileContext } from '../profiles/context.ts';
import { countDispositions, getBatch, getChunk } from '../store/batches.ts';
import type { BlobStore } from '../store/blobs.ts';
import { sha256OfFile } from '../store/blobs.ts';
import type { Db } from '../store/db.ts';
import { ledgerRows } from '../store/ledger.ts';
import { applyPatch } from '../store/review.ts';
import { CONFLICTING_DUPLICATE } from '../store/conflicting-duplicates.ts';

type History = temporal.api.history.v1.IHistory;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One record's way through sluice. */
export interface RecordJourney {
  recordNo: number;
  auditTraceId: string;
  file: string;
  inputSha256: string;
  line: number | null;
  byteOffset: number | null;
  chunkNo: number;
  parsedAt: string | null;
  validatedAt: string | null;
  classifiedAt: string | null;
  /** `invalid` when the record failed validation; `valid` when it passed (whether held by a rule or not). */
  validation: 'valid' | 'invalid' | 'unknown';
  /** Why the record was held; `conflicting_duplicate` too for a duplicate whose content differs from the ledger's. */
  heldReason: string | null;
  errorSignature: string | null;
  /** When the chunk's commit recorded the record's first disposition. */
  dispositionAt: string | null;
  decision: { decisionId: string; action: string; reviewer: string; note: string | null; decidedAt: string } | null;
  status: string;
  idempotencyKey: string | null;
  businessKey: string | null;
}

export interface AuditCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface AuditReport {
  batchId: string;
  workflowId: string;
  profile: string;
  file: string;
  sha256: string;
  records: number;
  chunks: number;
  counts: RecordCounts;
  /** Records of chunks a stopped batch never dispatched: they have no disposition, and no journey. */
  notProcessed: number;
  ledgerHash: string;
  /** The ledger hash the completed workflow recorded in its history (null while it runs). */
  recordedLedgerHash: string | null;
  workflowStatus: string;
  decisions: DecisionRow[];
  events: BatchEvent[];
  checks: AuditCheck[];
  ok: boolean;
}

export class UnknownBatchError extends Error {
  override name = 'UnknownBatchError';
}

const MAX_PROBLEMS = 10;

/** Collects problems for one check, keeping the first few as examples. */
class Check {
  private problems: string[] = [];
  private count = 0;
  constructor(
    readonly name: string,
    private readonly passText: string,
  ) {}
  fail(problem: string): void {
    this.count += 1;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(problem);
  }
  result(): AuditCheck {
    if (this.count === 0) return { name: this.name, ok: true, detail: this.passText };
    const more = this.count > this.problems.length ? ` (and ${this.count - this.problems.length} more)` : '';
    return { name: this.name, ok: false, detail: `${this.count} problem(s): ${this.problems.join('; ')}${more}` };
  }
}

const eventTime = (e: HistoryEvent): string | null => {
  const t = e.eventTime;
  if (!t) return null;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
};

function decodePayloads(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((p) => {
    try {
      return defaultPayloadConverter.fromPayload(p as never);
    } catch {
      return undefined;
    }
  });
}

/** Stable JSON: object keys sorted, so two equal records compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Decisions that reached the batch workflow (signals and updates named `review`), from every run's history. */
function decisionIdsIn(history: History): string[] {
  const ids: string[] = [];
  for (const e of history.events ?? []) {
    const signal = e.workflowExecutionSignaledEventAttributes;
    const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    const input = signal?.signalName === 'review' ? signal.input : update?.name === 'review' ? update.args : undefined;
    if (!input) continue;
    for (const v of decodePayloads(input)) {
      const parsed = typeof v === 'string' ? safeJson(v) : v;
      const id = (parsed as { decisionId?: unknown } | undefined)?.decisionId;
      if (typeof id === 'string') ids.push(id);
    }
  }
  return ids;
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};

/** Times of a chunk's stages from its history: the three local-activity markers, then the commit's completion. */
function chunkStageTimes(history: History | null): {
  parsedAt: string | null;
  validatedAt: string | null;
  classifiedAt: string | null;
  committedAt: string | null;
} {
  const markers = (history?.events ?? []).filter((e) => e.markerRecordedEventAttributes).map(eventTime);
  const completed = (history?.events ?? []).filter((e) => e.activityTaskCompletedEventAttributes).map(eventTime);
  return {
    parsedAt: markers[0] ?? null,
    validatedAt: markers[1] ?? null,
    classifiedAt: markers[2] ?? null,
    committedAt: completed[completed.length - 1] ?? null,
  };
}

export interface AuditDeps {
  db: Db;
  blobs: BlobStore;
  temporal: Client;
  getProfile: (id: string) => Profile;
}

export async function auditBatch(
  deps: AuditDeps,
  batchId: string,
  onRecord: (journey: RecordJourney) => void | Promise<void> = () => undefined,
): Promise<AuditReport> {
  const { db, blobs, temporal, getProfile } = deps;
  const batch: BatchRow | null = await getBatch(db, batchId);
  if (!batch) throw new UnknownBatchError(`no batch ${batchId} in the store`);
  if (batch.chunks === null || batch.records === null || !batch.layout) {
    throw new UnknownBatchError(`batch ${batchId} has not been planned yet: nothing to audit`);
  }
  const profile = getProfile(batch.profile);
  const context = profileContext(batch.config);

  // The workflow side: every run of the batch workflow (continue-as-new makes several).
  const runs: History[] = [];
  let workflowStatus = 'UNKNOWN';
  let finalReport: BatchReport | null = null;
  for await (const wf of temporal.workflow.list({ query: `WorkflowId = "${batch.workflowId}"` })) {
    const history = await temporal.workflow.getHandle(batch.workflowId, wf.runId).fetchHistory();
    runs.push(history);
    for (const e of history.events ?? []) {
      const done = e.workflowExecutionCompletedEventAttributes;
      if (done && !done.newExecutionRunId) {
        finalReport = decodePayloads(done.result)[0] as BatchReport;
        workflowStatus = 'COMPLETED';
      }
    }
  }
  if (runs.length === 0) workflowStatus = 'NOT_FOUND';
  else if (!finalReport) workflowStatus = (await temporal.workflow.getHandle(batch.workflowId).describe()).status.name;

  const inputCheck = new Check('input_sha256', `the stored input hashes to ${batch.sha256}`);
  const file = await blobs.localPath(batch.sha256).catch(() => null);
  if (!file) inputCheck.fail(`the input blob ${batch.sha256} is missing from the blob store`);
  else {
    const actual = await sha256OfFile(file);
    if (actual !== batch.sha256) inputCheck.fail(`the stored input hashes to ${actual}, not ${batch.sha256}`);
  }

  const decisions = await reviewDecisions(db, batchId);
  const decisionById = new Map(decisions.map((d) => [d.decisionId, d]));
  const dispositionCheck = new Check(
    'one_disposition_per_record',
    `each of the ${batch.records} records has exactly one disposition`,
  );
  const ledgerCheck = new Check(
    'ledger_matches_dispositions',
    'every committed record has its ledger row and no other row exists',
  );
  const contentCheck = new Check('ledger_content', 'every ledger row is what its input record (and amendment) gives');
  const hash = createHash('sha256');

  const stopped = finalReport?.status === 'stopped';
  let notProcessed = 0;
  const outside = await ledgerRowsOutside(db, batchId, batch.records);
  if (outside > 0)
    ledgerCheck.fail(`${outside} ledger row(s) of the batch carry record numbers outside 1..${batch.records}`);

  let recordsRead = 0;
  for (let chunkNo = 0; chunkNo < batch.chunks; chunkNo++) {
    const chunk = await getChunk(db, batchId, chunkNo);
    if (!chunk) {
      dispositionCheck.fail(`chunk ${chunkNo} is missing from the plan`);
      continue;
    }
    const last = chunk.firstRecord + chunk.recordCount - 1;
    const dispositions = new Map(
      (await dispositionsInRange(db, batchId, chunk.firstRecord, last)).map((d) => [d.recordNo, d]),
    );
    if (stopped && dispositions.size === 0) {
      // A stopped batch never dispatched this chunk: its records are reported as not processed.
      notProcessed += chunk.recordCount;
      recordsRead += chunk.recordCount;
      continue;
    }
    const source = file ? await profile.readChunk(file, batch.fileName, batch.layout, chunk) : [];
    recordsRead += source.length;
    const ledger = new Map<number, { idempotencyKey: string; businessKey: string; payloadText: string }>();
    for await (const row of ledgerRows(db, batchId, { from: chunk.firstRecord, to: last })) {
      ledger.set(row.recordNo, row);
      hash.update(`${row.recordNo}\t${row.idempotencyKey}\t${row.businessKey}\t${row.payloadText}\n`);
    }
    const chunkHistory = await temporal.workflow
      .getHandle(chunkWorkflowId(batch.workflowId, chunkNo))
      .fetchHistory()
      .catch(() => null);
    const times = chunkStageTimes(chunkHistory);

    for (const rec of source) {
      const d = dispositions.get(rec.recordNo);
      if (!d) {
        dispositionCheck.fail(`record ${rec.recordNo} (line ${rec.location.line ?? '?'}) has no disposition`);
        continue;
      }
      const decision = d.decisionId ? (decisionById.get(d.decisionId) ?? null) : null;
      const committed = d.status === 'committed' || d.status === 'approved';
      const row = ledger.get(rec.recordNo);
      if (committed && !row) ledgerCheck.fail(`record ${rec.recordNo} is ${d.status} but has no ledger row`);
      if (!committed && row) ledgerCheck.fail(`record ${rec.recordNo} is ${d.status} but has a ledger row`);
      if (committed && row) {
        const fields =
          decision?.action === 'amend' && decision.patch ? applyPatch(rec.fields, decision.patch) : rec.fields;
        const v = profile.validate(fields, context);
        if (!v.ok) contentCheck.fail(`record ${rec.recordNo}: the input no longer validates (${v.reasonCode})`);
        else if (profile.idempotencyKey(v.record) !== row.idempotencyKey) {
          contentCheck.fail(
            `record ${rec.recordNo}: ledger key ${row.idempotencyKey.slice(0, 12)}… is not the input's`,
          );
        } else if (canonical(v.record) !== canonical(JSON.parse(row.payloadText))) {
          contentCheck.fail(`record ${rec.recordNo}: ledger row differs from the input (${row.businessKey})`);
        }
      }
      await onRecord({
        recordNo: rec.recordNo,
        auditTraceId: d.auditTraceId,
        file: batch.fileName,
        inputSha256: batch.sha256,
        line: rec.location.line ?? null,
        byteOffset: rec.location.byteOffset ?? null,
        chunkNo,
        parsedAt: times.parsedAt,
        validatedAt: times.validatedAt,
        classifiedAt: times.classifiedAt,
        validation: d.reasonCode === 'parse_error' ? 'unknown' : d.held && !d.idempotencyKey ? 'invalid' : 'valid',
        heldReason: d.held || d.reasonCode === CONFLICTING_DUPLICATE ? d.reasonCode : null,
        errorSignature: d.errorSignature,
        dispositionAt: times.committedAt,
        decision: decision
          ? {
              decisionId: decision.decisionId,
              action: decision.action,
              reviewer: decision.reviewer,
              note: decision.note,
              decidedAt: d.decidedAt ?? decision.decidedAt,
            }
          : d.reasonCode === 'review_timeout'
            ? {
                decisionId: 'review_timeout',
                action: 'reject',
                reviewer: 'sluice',
                note: 'review deadline passed',
                decidedAt: d.decidedAt ?? '',
              }
            : null,
        status: d.status,
        idempotencyKey: d.idempotencyKey,
        businessKey: d.businessKey,
      });
    }
  }
  if (recordsRead !== batch.records)
    dispositionCheck.fail(`read ${recordsRead} records from the input, the plan says ${batch.records}`);
  const summary = await dispositionSummary(db, batchId);
  const processed = batch.records - notProcessed;
  if (summary.rows !== processed || summary.distinctRecords !== processed) {
    dispositionCheck.fail(
      `${summary.rows} disposition row(s) for ${processed} input records` +
        (notProcessed > 0 ? ` (${notProcessed} not processed: the batch stopped)` : ''),
    );
  }
  if (stopped && finalReport?.notProcessed !== notProcessed) {
    dispositionCheck.fail(
      `the workflow reports ${finalReport?.notProcessed} records not processed, the store ${notProcessed}`,
    );
  }

  const ledgerHash = hash.digest('hex');
  const counts = await countDispositions(db, batchId);
  const hashCheck = new Check(
    'ledger_hash',
    `the ledger hash ${ledgerHash} equals the one recorded in the workflow history`,
  );
  const countsCheck = new Check('counts_match_history', "the workflow result reports the store's counts");
  if (finalReport) {
    if (finalReport.ledgerHash !== ledgerHash) {
      hashCheck.fail(`the workflow recorded ${finalReport.ledgerHash}, the ledger now hashes to ${ledgerHash}`);
    }
    for (const key of [
      'records',
      'committed',
      'duplicates',
      'quarantined',
      'approved',
      'rejected',
      'pendingReview',
    ] as const) {
      if (finalReport[key] !== counts[key])
        countsCheck.fail(`${key}: workflow ${finalReport[key]}, store ${counts[key]}`);
    }
  }
  const checks: AuditCheck[] = [
    inputCheck.result(),
    dispositionCheck.result(),
    ledgerCheck.result(),
    contentCheck.result(),
  ];
  checks.push(
    finalReport
      ? hashCheck.result()
      : {
          name: 'ledger_hash',
          ok: true,
          detail: `${ledgerHash} (the batch has not completed: no recorded hash to compare)`,
        },
  );
  if (finalReport) checks.push(countsCheck.result());

  const historyDecisions = new Set(runs.flatMap(decisionIdsIn));
  const decisionCheck = new Check(
    'decisions_in_history',
    `all ${decisions.length} applied decision(s) arrived through the workflow`,
  );
  for (const d of decisions)
    if (!historyDecisions.has(d.decisionId))
      decisionCheck.fail(`decision ${d.decisionId} is not in the workflow history`);
  checks.push(decisionCheck.result());

  return {
    batchId,
    workflowId: batch.workflowId,
    profile: batch.profile,
    file: batch.fileName,
    sha256: batch.sha256,
    records: batch.records,
    chunks: batch.chunks,
    counts,
    notProcessed,
    ledgerHash,
    recordedLedgerHash: finalReport?.ledgerHash ?? null,
    workflowStatus,
    decisions,
    events: await batchEvents(db, batchId),
    checks,
    ok: checks.every((c) => c.ok),
  };
}
