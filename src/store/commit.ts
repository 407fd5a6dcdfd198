/**
 * The idempotent commit of one chunk: ledger rows and every record's disposition in one transaction.
 *
 * - Ledger rows are inserted in idempotency-key order with ON CONFLICT DO NOTHING, so two chunks that share keys
 *   take their row locks in the same order and cannot deadlock each other (DESIGN.md pitfalls).
 * - A record is `committed` when the ledger row for its key is its own (same batch and record number), otherwise
 *   `duplicate`. This rule gives the same answer when the activity runs again after a crash, so a retry never turns
 *   a committed record into a duplicate or commits anything twice.
 * - The chunk row's `committed_at` is the commit marker: a retry after a successful commit returns the stored counts.
 */
import type { ChunkCommitResult } from '../shared/contracts.ts';
import { errorSignature } from '../shared/error-signature.ts';
import type { FieldIssue, RecordLocation, SourceFields } from '../profiles/types.ts';
import type { Db, Tx } from './db.ts';
import { withTransaction } from './db.ts';
import { appendAudit, appendRecordAudit } from './audit.ts';

export interface CommitCandidate {
  recordNo: number;
  idempotencyKey: string;
  businessKey: string;
  payload: unknown;
}

export interface HeldRecord {
  recordNo: number;
  reasonCode: string;
  issues: FieldIssue[];
  source: SourceFields;
  location: RecordLocation;
  /** Present when the record was valid and held by classification: its keys, for review and amendment. */
  idempotencyKey?: string;
  businessKey?: string;
}

export interface ChunkCommit {
  batchId: string;
  profile: string;
  chunkNo: number;
  commit: CommitCandidate[];
  held: HeldRecord[];
}

/** The idempotency keys among `keys` that the ledger holds already. */
export async function ledgeredKeys(tx: Db | Tx, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { rows } = await tx.query('SELECT idempotency_key FROM ledger WHERE idempotency_key = ANY($1)', [keys]);
  return new Set(rows.map((r) => r.idempotency_key as string));
}

/**
 * Locks idempotency keys until the transaction ends (advisory locks, taken in key order so two chunks cannot
 * deadlock): a chunk that delivers records elsewhere before its ledger write holds its keys, and a concurrent chunk
 * with the same key waits, then finds it in the ledger and counts a duplicate instead of delivering it again.
 */
export async function lockIdempotencyKeys(tx: Tx, keys: readonly string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  await tx.query(
    'SELECT pg_advisory_xact_lock(hashtextextended(k, 7160002)) FROM unnest($1::text[]) WITH ORDINALITY AS t(k, i) ORDER BY i',
    [sorted],
  );
}

/**
 * Delivers a chunk's records to a commit target outside the ledger, inside the chunk's transaction (after the
 * marker check, before the ledger write); returns the chunk to record, e.g. with refused records moved to `held`.
 */
export type ChunkDelivery = (
  tx: Tx,
  chunk: Pick<ChunkCommit, 'commit' | 'held'>,
) => Promise<Pick<ChunkCommit, 'commit' | 'held'>>;

export async function commitChunk(db: Db, chunk: ChunkCommit, deliver?: ChunkDelivery): Promise<ChunkCommitResult> {
  return withTransaction(db, async (tx) => {
    let c = chunk;
    const marker = await tx.query(
      `SELECT committed_at, counts FROM batch_chunk WHERE batch_id = $1 AND chunk_no = $2 FOR UPDATE`,
      [c.batchId, c.chunkNo],
    );
    if (!marker.rows[0]) throw new Error(`chunk ${c.chunkNo} of batch ${c.batchId} is not planned`);
    if (marker.rows[0].committed_at) return marker.rows[0].counts as ChunkCommitResult;
    if (deliver) c = { ...c, ...(await deliver(tx, c)) };

    const { committed, duplicates } = await insertLedgerAndDispositions(tx, c.batchId, c.profile, c.chunkNo, c.commit, {
      status: 'committed',
    });
    await insertHeld(tx, c.batchId, c.chunkNo, c.held);

    const heldByReason: Record<string, number> = {};
    for (const h of c.held) heldByReason[h.reasonCode] = (heldByReason[h.reasonCode] ?? 0) + 1;
    const counts: ChunkCommitResult = {
      records: c.commit.length + c.held.length,
      committed,
      duplicates,
      quarantined: c.held.length,
      approved: 0,
      rejected: 0,
      pendingReview: c.held.length,
      heldByReason,
    };
    await tx.query(`UPDATE batch_chunk SET committed_at = now(), counts = $3 WHERE batch_id = $1 AND chunk_no = $2`, [
      c.batchId,
      c.chunkNo,
      JSON.stringify(counts),
    ]);
    await appendAudit(tx, { batchId: c.batchId, event: 'chunk_committed', chunkNo: c.chunkNo, detail: counts });
    return counts;
  });
}

/**
 * Inserts ledger rows for `candidates` and sets each candidate's disposition to `status` (`committed` or
 * `approved`) or `duplicate`. New dispositions are inserted; with `update`, existing (held) rows are updated.
 */
export async function insertLedgerAndDispositions(
  tx: Tx,
  batchId: string,
  profile: string,
  chunkNo: number,
  candidates: CommitCandidate[],
  opts: { status: 'committed' | 'approved'; update?: { decisionId: string; reviewer: string; note: string | null } },
): Promise<{ committed: number; duplicates: number; duplicateRecordNos: number[] }> {
  if (candidates.length === 0) return { committed: 0, duplicates: 0, duplicateRecordNos: [] };
  const recordNos = candidates.map((r) => r.recordNo);
  const keys = candidates.map((r) => r.idempotencyKey);
  const businessKeys = candidates.map((r) => r.businessKey);
  const payloads = candidates.map((r) => JSON.stringify(r.payload));

  // DISTINCT ON keeps the first record of a key within the chunk; ORDER BY key fixes the lock order.
  await tx.query(
    `INSERT INTO ledger (idempotency_key, profile, business_key, batch_id, record_no, payload)
     SELECT DISTINCT ON (k) k, $2, bk, $1, rn, p
       FROM unnest($3::bigint[], $4::text[], $5::text[], $6::jsonb[]) AS t(rn, k, bk, p)
      ORDER BY k, rn
     ON CONFLICT (idempotency_key) DO NOTHING`,
    [batchId, profile, recordNos, keys, businessKeys, payloads],
  );

  const outcome = opts.update
    ? await tx.query<{ record_no: string; status: string }>(
        `UPDATE record_disposition d
            SET status = CASE WHEN l.batch_id = $1 AND l.record_no = t.rn THEN $4 ELSE 'duplicate' END,
                idempotency_key = t.k, business_key = t.bk,
                decision_id = $5, decided_by = $6, note = $7, decided_at = now(), updated_at = now()
           FROM unnest($2::bigint[], $3::text[], $8::text[]) AS t(rn, k, bk)
           JOIN ledger l ON l.idempotency_key = t.k
          WHERE d.batch_id = $1 AND d.record_no = t.rn
        RETURNING d.record_no, d.status`,
        [
          batchId,
          recordNos,
          keys,
          opts.status,
          opts.update.decisionId,
          opts.update.reviewer,
          opts.update.note,
          businessKeys,
        ],
      )
    : await tx.query<{ record_no: string; status: string }>(
        `INSERT INTO record_disposition (batch_id, record_no, chunk_no, status, audit_trace_id, idempotency_key, business_key)
         SELECT $1, t.rn, $2,
                CASE WHEN l.batch_id = $1 AND l.record_no = t.rn THEN $5 ELSE 'duplicate' END,
                md5($1 || ':' || t.rn)::uuid, t.k, t.bk
           FROM unnest($3::bigint[], $4::text[], $6::text[]) AS t(rn, k, bk)
           JOIN ledger l ON l.idempotency_key = t.k
         ON CONFLICT (batch_id, record_no) DO NOTHING
         RETURNING record_no, status`,
        [batchId, chunkNo, recordNos, keys, opts.status, businessKeys],
      );
  if (outcome.rowCount !== candidates.length) {
    throw new Error(
      `batch ${batchId} chunk ${chunkNo}: expected ${candidates.length} dispositions, wrote ${outcome.rowCount}`,
    );
  }
  const duplicateRecordNos = outcome.rows.filter((r) => r.status === 'duplicate').map((r) => Number(r.record_no));
  if (duplicateRecordNos.length > 0) {
    const byNo = new Map(candidates.map((r) => [r.recordNo, r]));
    await appendRecordAudit(tx, {
      batchId,
      event: 'duplicate',
      recordNos: duplicateRecordNos,
      details: duplicateRecordNos.map((n) => ({ business_key: byNo.get(n)?.businessKey })),
    });
  }
  return {
    committed: candidates.length - duplicateRecordNos.length,
    duplicates: duplicateRecordNos.length,
    duplicateRecordNos,
  };
}

async function insertHeld(tx: Tx, batchId: string, chunkNo: number, held: HeldRecord[]): Promise<void> {
  if (held.length === 0) return;
  await tx.query(
    `INSERT INTO record_disposition (batch_id, record_no, chunk_no, status, audit_trace_id, held, reason_code, issues,
                                     source, location, idempotency_key, business_key, error_signature)
     SELECT $1, t.rn, $2, 'quarantined', md5($1 || ':' || t.rn)::uuid, true, t.reason, t.issues, t.source, t.loc, t.k, t.bk,
            t.sig
       FROM unnest($3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[], $8::text[], $9::text[], $10::text[])
            AS t(rn, reason, issues, source, loc, k, bk, sig)
     ON CONFLICT (batch_id, record_no) DO NOTHING`,
    [
      batchId,
      chunkNo,
      held.map((h) => h.recordNo),
      held.map((h) => h.reasonCode),
      held.map((h) => JSON.stringify(h.issues)),
      held.map((h) => JSON.stringify(h.source)),
      held.map((h) => JSON.stringify(h.location)),
      held.map((h) => h.idempotencyKey ?? null),
      held.map((h) => h.businessKey ?? null),
      held.map((h) => errorSignature(h.issues)),
    ],
  );
  await appendRecordAudit(tx, {
    batchId,
    event: 'held',
    recordNos: held.map((h) => h.recordNo),
    details: held.map((h) => ({ reason_code: h.reasonCode, issues: h.issues, location: h.location })),
  });
}
