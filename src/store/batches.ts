/**
 * Batches and their chunk plans, and the record counts every report is built from.
 */
import type { BatchConfig, RecordCounts } from '../shared/contracts.ts';
import type { ChunkPlan, InputLayout } from '../profiles/types.ts';
import type { Db } from './db.ts';
import { withTransaction } from './db.ts';
import { appendAudit } from './audit.ts';

export interface BatchRow {
  batchId: string;
  workflowId: string;
  profile: string;
  sha256: string;
  sizeBytes: number;
  fileName: string;
  config: BatchConfig;
  layout: InputLayout | null;
  chunks: number | null;
  records: number | null;
  startedAt: string;
  plannedAt: string | null;
  finishedAt: string | null;
}

export interface NewBatch {
  batchId: string;
  workflowId: string;
  profile: string;
  sha256: string;
  size: number;
  fileName: string;
  config: BatchConfig;
}

/** Records the batch once; a second call (activity retry, resubmission) changes nothing. */
export async function registerBatch(db: Db, b: NewBatch): Promise<void> {
  await withTransaction(db, async (tx) => {
    const res = await tx.query(
      `INSERT INTO batch (batch_id, workflow_id, profile, sha256, size_bytes, file_name, config)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (batch_id) DO NOTHING`,
      [b.batchId, b.workflowId, b.profile, b.sha256, b.size, b.fileName, JSON.stringify(b.config)],
    );
    if (res.rowCount === 1) {
      await appendAudit(tx, {
        batchId: b.batchId,
        event: 'batch_received',
        detail: { file: b.fileName, sha256: b.sha256, size: b.size, profile: b.profile },
      });
    }
  });
}

export async function getBatch(db: Db, batchId: string): Promise<BatchRow | null> {
  const { rows } = await db.query(
    `SELECT batch_id, workflow_id, profile, sha256, size_bytes, file_name, config, layout, chunks, records,
            started_at, planned_at, finished_at
       FROM batch WHERE batch_id = $1`,
    [batchId],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    batchId: r.batch_id,
    workflowId: r.workflow_id,
    profile: r.profile,
    sha256: r.sha256,
    sizeBytes: Number(r.size_bytes),
    fileName: r.file_name,
    config: r.config,
    layout: r.layout,
    chunks: r.chunks,
    records: r.records === null ? null : Number(r.records),
    startedAt: iso(r.started_at)!,
    plannedAt: iso(r.planned_at),
    finishedAt: iso(r.finished_at),
  };
}

/**
 * Stores a batch's plan. Planning is deterministic (same bytes, same limits, same plan), so a retried plan activity
 * writes the same rows and conflicts are ignored. Chunks are written in pages to keep each statement small.
 */
export async function savePlanPage(db: Db, batchId: string, chunks: ChunkPlan[]): Promise<void> {
  if (chunks.length === 0) return;
  await db.query(
    `INSERT INTO batch_chunk (batch_id, chunk_no, byte_start, byte_end, first_record, record_count, first_line)
     SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::int[], $7::bigint[])
     ON CONFLICT (batch_id, chunk_no) DO NOTHING`,
    [
      batchId,
      chunks.map((c) => c.chunkNo),
      chunks.map((c) => c.byteStart),
      chunks.map((c) => c.byteEnd),
      chunks.map((c) => c.firstRecord),
      chunks.map((c) => c.recordCount),
      chunks.map((c) => c.firstLine ?? null),
    ],
  );
}

export async function finishPlan(
  db: Db,
  batchId: string,
  layout: InputLayout,
  chunks: number,
  records: number,
): Promise<void> {
  await withTransaction(db, async (tx) => {
    const res = await tx.query(
      `UPDATE batch SET layout = $2, chunks = $3, records = $4, planned_at = now()
        WHERE batch_id = $1 AND planned_at IS NULL`,
      [batchId, JSON.stringify(layout), chunks, records],
    );
    if (res.rowCount === 1) {
      await appendAudit(tx, { batchId, event: 'batch_planned', detail: { chunks, records } });
    }
  });
}

export async function getChunk(db: Db, batchId: string, chunkNo: number): Promise<ChunkPlan | null> {
  const { rows } = await db.query(
    `SELECT chunk_no, byte_start, byte_end, first_record, record_count, first_line FROM batch_chunk
      WHERE batch_id = $1 AND chunk_no = $2`,
    [batchId, chunkNo],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    chunkNo: r.chunk_no,
    byteStart: Number(r.byte_start),
    byteEnd: Number(r.byte_end),
    firstRecord: Number(r.first_record),
    recordCount: r.record_count,
    ...(r.first_line === null ? {} : { firstLine: Number(r.first_line) }),
  };
}

export async function markBatchFinished(db: Db, batchId: string, status: string): Promise<void> {
  await withTransaction(db, async (tx) => {
    const res = await tx.query(`UPDATE batch SET finished_at = now() WHERE batch_id = $1 AND finished_at IS NULL`, [
      batchId,
    ]);
    if (res.rowCount === 1) await appendAudit(tx, { batchId, event: 'batch_finished', detail: { status } });
  });
}

/** Record counts of a batch from its dispositions: the source of truth for reports and audits. */
export async function countDispositions(db: Pick<Db, 'query'>, batchId: string): Promise<RecordCounts> {
  const { rows } = await db.query(
    `SELECT count(*)                                          AS records,
            count(*) FILTER (WHERE status IN ('committed', 'approved')) AS committed,
            count(*) FILTER (WHERE status = 'duplicate')      AS duplicates,
            count(*) FILTER (WHERE held)                      AS quarantined,
            count(*) FILTER (WHERE status = 'approved')       AS approved,
            count(*) FILTER (WHERE status = 'rejected')       AS rejected,
            count(*) FILTER (WHERE status = 'quarantined')    AS pending
       FROM record_disposition WHERE batch_id = $1`,
    [batchId],
  );
  const r = rows[0];
  return {
    records: Number(r.records),
    committed: Number(r.committed),
    duplicates: Number(r.duplicates),
    quarantined: Number(r.quarantined),
    approved: Number(r.approved),
    rejected: Number(r.rejected),
    pendingReview: Number(r.pending),
  };
}

function iso(v: Date | null): string | null {
  return v ? v.toISOString() : null;
}
