/**
 * The idempotent commit of one chunk: ledger rows and every record's disposition in one transaction.
 *
 * - Ledger rows are inserted in idempotency-key order with ON CONFLICT DO NOTHING, so two chunks that share keys
 *   take their row locks in the same order and cannot deadlock each other (DESIGN.md pitfalls).
 * - A record is `committed` when the ledger row for its key is its own (same batch and record number), otherwise
 *   `duplicate`. This rule gives the same answer when the activity runs again after a crash, so a retry never turns
 *   a committed record into a duplicate or commits anything twice.
 * - The chunk row's `committed_at` is the commit marker: a retry after a successful commit returns the stored counts.
 * - A duplicate whose content differs from the ledger row that holds its key is a conflicting duplicate
 *   (src/store/conflicting-duplicates.ts): it stays `duplicate` with reason `conflicting_duplicate`, the differing
 *   fields as issues and its fields as read, or with `conflicting_duplicates: hold` it is held for review.
 */
import type { ChunkCommitResult } from '../shared/contracts.ts';
import { errorSignature } from '../shared/error-signature.ts';
import type { FieldIssue, RecordLocation, SourceFields } from '../profiles/types.ts';
import type { Db, Tx } from './db.ts';
import { withTransaction } from './db.ts';
import { appendAudit, appendRecordAudit } from './audit.ts';
import { CONFLICTING_DUPLICATE, conflictIssues } from './conflicting-duplicates.ts';

export interface CommitCandidate {
  recordNo: number;
  idempotencyKey: string;
  businessKey: string;
  payload: unknown;
  /**
   * The fields as read and where (set by splitForCommit): kept on the disposition of a conflicting duplicate, and
   * what review shows and amends when `conflicting_duplicates: hold` holds one.
   */
  source?: SourceFields;
  location?: RecordLocation;
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
  /** What to do with a duplicate whose content differs from the ledger's (batch_config.conflicting_duplicates). */
  conflictingDuplicates?: 'record' | 'hold';
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

    const { committed, duplicates, conflictsHeld } = await insertLedgerAndDispositions(
      tx,
      c.batchId,
      c.profile,
      c.chunkNo,
      c.commit,
      { status: 'committed', conflicts: c.conflictingDuplicates ?? 'record' },
    );
    await insertHeld(tx, c.batchId, c.chunkNo, c.held);

    const heldByReason: Record<string, number> = {};
    for (const h of c.held) heldByReason[h.reasonCode] = (heldByReason[h.reasonCode] ?? 0) + 1;
    if (conflictsHeld > 0) {
      heldByReason[CONFLICTING_DUPLICATE] = (heldByReason[CONFLICTING_DUPLICATE] ?? 0) + conflictsHeld;
    }
    const held = c.held.length + conflictsHeld;
    const counts: ChunkCommitResult = {
      records: c.commit.length + c.held.length,
      committed,
      duplicates,
      quarantined: held,
      approved: 0,
      rejected: 0,
      pendingReview: held,
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
 * With `conflicts` (fresh chunks only), duplicates whose content differs from the ledger's are recorded as
 * conflicting duplicates, or held for review (`hold`): `duplicates` leaves those out, `conflictsHeld` counts them.
 */
export async function insertLedgerAndDispositions(
  tx: Tx,
  batchId: string,
  profile: string,
  chunkNo: number,
  candidates: CommitCandidate[],
  opts: {
    status: 'committed' | 'approved';
    update?: { decisionId: string; reviewer: string; note: string | null };
    conflicts?: 'record' | 'hold';
  },
): Promise<{ committed: number; duplicates: number; duplicateRecordNos: number[]; conflictsHeld: number }> {
  if (candidates.length === 0) return { committed: 0, duplicates: 0, duplicateRecordNos: [], conflictsHeld: 0 };
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
  let duplicateRecordNos = outcome.rows.filter((r) => r.status === 'duplicate').map((r) => Number(r.record_no));
  const duplicateCount = duplicateRecordNos.length;
  let conflictsHeld = 0;
  if (duplicateRecordNos.length > 0) {
    const byNo = new Map(candidates.map((r) => [r.recordNo, r]));
    const conflicts =
      opts.conflicts && !opts.update
        ? await markConflicts(
            tx,
            batchId,
            duplicateRecordNos.map((n) => byNo.get(n)!),
            opts.conflicts,
          )
        : new Map<number, Conflict>();
    if (opts.conflicts === 'hold' && conflicts.size > 0) {
      duplicateRecordNos = duplicateRecordNos.filter((n) => !conflicts.has(n));
      conflictsHeld = conflicts.size;
      const heldNos = [...conflicts.keys()];
      await appendRecordAudit(tx, {
        batchId,
        event: 'held',
        recordNos: heldNos,
        details: heldNos.map((n) => {
          const k = conflicts.get(n)!;
          return { reason_code: CONFLICTING_DUPLICATE, issues: k.issues, location: byNo.get(n)?.location, ...k.owner };
        }),
      });
    }
    await appendRecordAudit(tx, {
      batchId,
      event: 'duplicate',
      recordNos: duplicateRecordNos,
      details: duplicateRecordNos.map((n) => {
        const k = conflicts.get(n);
        return {
          business_key: byNo.get(n)?.businessKey,
          ...(k ? { conflict: true, ...k.owner, fields: k.issues.map((i) => i.path) } : {}),
        };
      }),
    });
  }
  return {
    committed: candidates.length - duplicateCount,
    duplicates: duplicateRecordNos.length,
    duplicateRecordNos,
    conflictsHeld,
  };
}

/** JSON text for a jsonb parameter; SQL NULL for an absent value. */
const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

interface Conflict {
  issues: FieldIssue[];
  owner: { owner_batch_id: string; owner_record_no: number };
}

/**
 * Finds the conflicting duplicates among `duplicates` (records just found duplicate) and rewrites their dispositions:
 * reason `conflicting_duplicate`, one issue per differing field, their fields as read and location; with `hold`, also
 * status `quarantined` and held. Only duplicates are looked at, so a chunk without any costs no query. The ledger
 * insert has waited for any concurrent transaction holding a key, so each owner's row is visible here.
 */
async function markConflicts(
  tx: Tx,
  batchId: string,
  duplicates: CommitCandidate[],
  mode: 'record' | 'hold',
): Promise<Map<number, Conflict>> {
  const { rows } = await tx.query<{ rn: string; p: unknown; owner_batch: string; owner_no: string; lp: unknown }>(
    `SELECT t.rn, t.p, l.batch_id AS owner_batch, l.record_no AS owner_no, l.payload AS lp
       FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS t(rn, k, p)
       JOIN ledger l ON l.idempotency_key = t.k
      WHERE NOT (l.batch_id = $1 AND l.record_no = t.rn) AND l.payload <> t.p`,
    [
      batchId,
      duplicates.map((d) => d.recordNo),
      duplicates.map((d) => d.idempotencyKey),
      duplicates.map((d) => JSON.stringify(d.payload)),
    ],
  );
  const conflicts = new Map<number, Conflict>();
  if (rows.length === 0) return conflicts;
  const byNo = new Map(duplicates.map((d) => [d.recordNo, d]));
  for (const r of rows) {
    const owner = { batchId: r.owner_batch, recordNo: Number(r.owner_no) };
    conflicts.set(Number(r.rn), {
      issues: conflictIssues(r.lp, r.p, owner),
      owner: { owner_batch_id: owner.batchId, owner_record_no: owner.recordNo },
    });
  }
  const nos = [...conflicts.keys()];
  await tx.query(
    `UPDATE record_disposition d
        SET status = $3, held = $4, reason_code = $5, issues = t.issues, source = t.source, location = t.loc,
            error_signature = t.sig, updated_at = now()
       FROM unnest($2::bigint[], $6::jsonb[], $7::jsonb[], $8::jsonb[], $9::text[]) AS t(rn, issues, source, loc, sig)
      WHERE d.batch_id = $1 AND d.record_no = t.rn`,
    [
      batchId,
      nos,
      mode === 'hold' ? 'quarantined' : 'duplicate',
      mode === 'hold',
      CONFLICTING_DUPLICATE,
      nos.map((n) => JSON.stringify(conflicts.get(n)!.issues)),
      nos.map((n) => json(byNo.get(n)?.source)),
      nos.map((n) => json(byNo.get(n)?.location)),
      nos.map((n) => errorSignature(conflicts.get(n)!.issues)),
    ],
  );
  return conflicts;
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
