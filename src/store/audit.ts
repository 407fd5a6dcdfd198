/**
 * The audit event log. Batch and chunk events are one row each; record events (held, duplicate, decisions) carry
 * the record's audit_trace_id, which is md5(batch_id || ':' || record_no) as a uuid: deterministic, so a retried
 * activity or a later audit derives the same id without storing a lookup.
 */
import type { Tx } from './db.ts';

export interface AuditEvent {
  batchId: string;
  event: string;
  chunkNo?: number;
  actor?: string;
  detail?: unknown;
}

export async function appendAudit(tx: Pick<Tx, 'query'>, e: AuditEvent): Promise<void> {
  await tx.query(`INSERT INTO audit_event (batch_id, event, chunk_no, actor, detail) VALUES ($1, $2, $3, $4, $5)`, [
    e.batchId,
    e.event,
    e.chunkNo ?? null,
    e.actor ?? null,
    e.detail === undefined ? null : JSON.stringify(e.detail),
  ]);
}

/** One event per record, in a single statement. */
export async function appendRecordAudit(
  tx: Pick<Tx, 'query'>,
  e: { batchId: string; event: string; actor?: string; recordNos: number[]; details: unknown[] },
): Promise<void> {
  if (e.recordNos.length === 0) return;
  await tx.query(
    `INSERT INTO audit_event (batch_id, event, actor, record_no, chunk_no, audit_trace_id, detail)
     SELECT $1, $2, $3, t.record_no, d.chunk_no, md5($1 || ':' || t.record_no)::uuid, t.detail
       FROM unnest($4::bigint[], $5::jsonb[]) AS t(record_no, detail)
       LEFT JOIN record_disposition d ON d.batch_id = $1 AND d.record_no = t.record_no`,
    [e.batchId, e.event, e.actor ?? null, e.recordNos, e.details.map((d) => JSON.stringify(d))],
  );
}
