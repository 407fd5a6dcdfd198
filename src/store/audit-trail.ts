/** Read side of the audit: dispositions, decisions and record events of a batch, in record order. */
import type { FieldIssue, RecordLocation } from '../profiles/types.ts';
import type { Db } from './db.ts';

export interface DispositionRow {
  recordNo: number;
  chunkNo: number;
  status: 'committed' | 'duplicate' | 'quarantined' | 'approved' | 'rejected';
  auditTraceId: string;
  idempotencyKey: string | null;
  businessKey: string | null;
  held: boolean;
  reasonCode: string | null;
  errorSignature: string | null;
  issues: FieldIssue[] | null;
  location: RecordLocation | null;
  decisionId: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  note: string | null;
}

export async function dispositionsInRange(
  db: Db,
  batchId: string,
  from: number,
  to: number,
): Promise<DispositionRow[]> {
  const { rows } = await db.query(
    `SELECT record_no, chunk_no, status, audit_trace_id, idempotency_key, business_key, held, reason_code,
            error_signature, issues, location, decision_id, decided_by, decided_at, note
       FROM record_disposition WHERE batch_id = $1 AND record_no BETWEEN $2 AND $3 ORDER BY record_no`,
    [batchId, from, to],
  );
  return rows.map((r) => ({
    recordNo: Number(r.record_no),
    chunkNo: r.chunk_no,
    status: r.status,
    auditTraceId: r.audit_trace_id,
    idempotencyKey: r.idempotency_key,
    businessKey: r.business_key,
    held: r.held,
    reasonCode: r.reason_code,
    errorSignature: r.error_signature,
    issues: r.issues,
    location: r.location,
    decisionId: r.decision_id,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at ? r.decided_at.toISOString() : null,
    note: r.note,
  }));
}

export interface DispositionSummary {
  rows: number;
  distinctRecords: number;
  minRecord: number | null;
  maxRecord: number | null;
}

export async function dispositionSummary(db: Db, batchId: string): Promise<DispositionSummary> {
  const { rows } = await db.query(
    `SELECT count(*) AS n, count(DISTINCT record_no) AS d, min(record_no) AS lo, max(record_no) AS hi
       FROM record_disposition WHERE batch_id = $1`,
    [batchId],
  );
  const r = rows[0];
  return {
    rows: Number(r.n),
    distinctRecords: Number(r.d),
    minRecord: r.lo === null ? null : Number(r.lo),
    maxRecord: r.hi === null ? null : Number(r.hi),
  };
}

/** Ledger rows of the batch whose record number no input record has (the audit checks the rest record by record). */
export async function ledgerRowsOutside(db: Db, batchId: string, records: number): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*) AS n FROM ledger WHERE batch_id = $1 AND (record_no < 1 OR record_no > $2)`,
    [batchId, records],
  );
  return Number(rows[0].n);
}

export interface DecisionRow {
  decisionId: string;
  action: string;
  reviewer: string;
  note: string | null;
  patch: Record<string, unknown> | null;
  decidedAt: string;
  outcome: unknown;
}

export async function reviewDecisions(db: Db, batchId: string): Promise<DecisionRow[]> {
  const { rows } = await db.query(
    `SELECT decision_id, action, reviewer, note, payload, decided_at, outcome FROM review_decision
      WHERE batch_id = $1 ORDER BY decided_at, decision_id`,
    [batchId],
  );
  return rows.map((r) => ({
    decisionId: r.decision_id,
    action: r.action,
    reviewer: r.reviewer,
    note: r.note,
    patch: r.payload?.patch ?? null,
    decidedAt: r.decided_at.toISOString(),
    outcome: r.outcome,
  }));
}

export interface BatchEvent {
  at: string;
  event: string;
  actor: string | null;
  chunkNo: number | null;
  detail: unknown;
}

/** Batch- and chunk-level events (record events are read per record through the dispositions). */
export async function batchEvents(db: Db, batchId: string): Promise<BatchEvent[]> {
  const { rows } = await db.query(
    `SELECT at, event, actor, chunk_no, detail FROM audit_event
      WHERE batch_id = $1 AND record_no IS NULL ORDER BY id`,
    [batchId],
  );
  return rows.map((r) => ({
    at: r.at.toISOString(),
    event: r.event,
    actor: r.actor,
    chunkNo: r.chunk_no,
    detail: r.detail,
  }));
}
