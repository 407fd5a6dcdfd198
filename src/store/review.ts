/**
 * Held records and review decisions. A decision is applied at most once per (batch, decisionId): the decision row is
 * inserted first, and a second copy finds it and changes nothing. Approved and amended records go through the same
 * idempotent ledger insert as chunk commits.
 */
import type { RecordCounts, ReviewDecision, ReviewOutcome } from '../shared/contracts.ts';
import { errorSignature } from '../shared/error-signature.ts';
import type { FieldIssue, RecordLocation, SourceFields } from '../profiles/types.ts';
import type { Db, Tx } from './db.ts';
import { withTransaction } from './db.ts';
import { appendAudit, appendRecordAudit } from './audit.ts';
import { countDispositions } from './batches.ts';
import type { CommitCandidate } from './commit.ts';
import { insertLedgerAndDispositions } from './commit.ts';

export interface PendingRecord {
  recordNo: number;
  reasonCode: string;
  issues: FieldIssue[];
  source: SourceFields;
  location: RecordLocation;
  businessKey: string | null;
}

/** Held records of one reason and error signature. */
export interface ReviewGroup {
  reasonCode: string;
  errorSignature: string;
  count: number;
  firstRecords: number[];
  /** True when these records passed validation and were held by a business rule, so `approve` can commit them. */
  approvable: boolean;
}

/** A held record as the review screens show it: values cut to 80 characters so a page stays small. */
export interface HeldRecordView {
  recordNo: number;
  reasonCode: string;
  line: number | null;
  issues: { path: string; code: string; message: string; value?: string }[];
}

export async function listPending(
  db: Db,
  batchId: string,
  opts: { limit?: number; afterRecord?: number; reasonCode?: string } = {},
): Promise<PendingRecord[]> {
  const { rows } = await db.query(
    `SELECT record_no, reason_code, issues, source, location, business_key FROM record_disposition
      WHERE batch_id = $1 AND status = 'quarantined' AND record_no > $2 AND ($3::text IS NULL OR reason_code = $3)
      ORDER BY record_no LIMIT $4`,
    [batchId, opts.afterRecord ?? 0, opts.reasonCode ?? null, opts.limit ?? 50],
  );
  return rows.map((r) => ({
    recordNo: Number(r.record_no),
    reasonCode: r.reason_code,
    issues: r.issues,
    source: r.source,
    location: r.location,
    businessKey: r.business_key,
  }));
}

export async function reviewGroups(db: Db, batchId: string, limit = 20): Promise<ReviewGroup[]> {
  const { rows } = await db.query(
    `SELECT reason_code, error_signature, count(*) AS n, (array_agg(record_no ORDER BY record_no))[1:5] AS first,
            bool_and(idempotency_key IS NOT NULL) AS approvable
       FROM record_disposition WHERE batch_id = $1 AND status = 'quarantined'
      GROUP BY reason_code, error_signature ORDER BY count(*) DESC, reason_code, error_signature LIMIT $2`,
    [batchId, limit],
  );
  return rows.map((r) => ({
    reasonCode: r.reason_code,
    errorSignature: r.error_signature ?? '',
    count: Number(r.n),
    firstRecords: r.first.map(Number),
    approvable: r.approvable,
  }));
}

const cut = (v: unknown): string => {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
};

/** The first held records (by record number) as the review screens show them. */
export async function heldRecordsPage(db: Db, batchId: string, limit = 10): Promise<HeldRecordView[]> {
  return (await listPending(db, batchId, { limit })).map((r) => ({
    recordNo: r.recordNo,
    reasonCode: r.reasonCode,
    line: r.location?.line ?? null,
    issues: r.issues.slice(0, 5).map((i) => ({
      path: i.path,
      code: i.code,
      message: cut(i.message),
      ...(i.value === undefined ? {} : { value: cut(i.value) }),
    })),
  }));
}

/** What the profile says of a held record's fields (after an amendment's patch, if any). */
export type Reassessment =
  { ok: true; candidate: Omit<CommitCandidate, 'recordNo'> } | { ok: false; reasonCode: string; issues: FieldIssue[] };

export async function applyDecision(
  db: Db,
  batchId: string,
  profile: string,
  decision: ReviewDecision,
  reassess: (source: SourceFields) => Reassessment,
  /**
   * Delivers approved records to a commit target outside the ledger before they are written to it (same
   * transaction); returns the keys it refused, whose records stay held as `commit_rejected`.
   */
  deliver?: (
    tx: Tx,
    chunkNo: number,
    candidates: CommitCandidate[],
  ) => Promise<{ keys: Set<string>; message: string } | null>,
): Promise<ReviewOutcome> {
  return withTransaction(db, async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO review_decision (batch_id, decision_id, action, reviewer, note, payload)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (batch_id, decision_id) DO NOTHING`,
      [
        batchId,
        decision.decisionId,
        decision.action,
        decision.reviewer,
        decision.note ?? null,
        JSON.stringify(decision),
      ],
    );
    if (inserted.rowCount === 0) {
      const prior = await tx.query(`SELECT outcome FROM review_decision WHERE batch_id = $1 AND decision_id = $2`, [
        batchId,
        decision.decisionId,
      ]);
      const counts = await countDispositions(tx, batchId);
      return { ...(prior.rows[0]?.outcome as ReviewOutcome), applied: false, counts };
    }

    const selected = await tx.query(
      `SELECT record_no, chunk_no, source FROM record_disposition
        WHERE batch_id = $1 AND status = 'quarantined'
          AND ($2::bool OR record_no = ANY($3::bigint[]) OR reason_code = $4 OR error_signature = $5)
        ORDER BY record_no FOR UPDATE`,
      [
        batchId,
        decision.all === true,
        decision.records ?? [],
        decision.reasonCode ?? null,
        decision.errorSignature ?? null,
      ],
    );
    const who = { decisionId: decision.decisionId, reviewer: decision.reviewer, note: decision.note ?? null };
    let approved = 0;
    let rejected = 0;
    let duplicates = 0;
    let stillHeld = 0;

    if (decision.action === 'reject') {
      const nos = selected.rows.map((r) => Number(r.record_no));
      await tx.query(
        `UPDATE record_disposition SET status = 'rejected', decision_id = $3, decided_by = $4, note = $5,
                decided_at = now(), updated_at = now()
          WHERE batch_id = $1 AND record_no = ANY($2::bigint[])`,
        [batchId, nos, who.decisionId, who.reviewer, who.note],
      );
      rejected = nos.length;
      await appendRecordAudit(tx, {
        batchId,
        event: 'rejected',
        actor: decision.reviewer,
        recordNos: nos,
        details: nos.map(() => ({ decision_id: decision.decisionId, note: decision.note ?? null })),
      });
    } else {
      const patch = decision.action === 'amend' ? (decision.patch ?? {}) : null;
      const byChunk = new Map<number, CommitCandidate[]>();
      const failed: { recordNo: number; reasonCode: string; issues: FieldIssue[]; source: SourceFields }[] = [];
      const sources = new Map<number, SourceFields>();
      for (const row of selected.rows) {
        const recordNo = Number(row.record_no);
        let source = row.source as SourceFields;
        let verdict: Reassessment;
        try {
          if (patch) source = applyPatch(source, patch);
          verdict = reassess(source);
        } catch (err) {
          // A patch path that does not fit this record keeps it held, with the reason, like a failed validation.
          verdict = {
            ok: false,
            reasonCode: 'patch_error',
            issues: [{ path: '', code: 'patch_error', message: (err as Error).message }],
          };
        }
        sources.set(recordNo, source);
        if (verdict.ok) {
          const list = byChunk.get(row.chunk_no) ?? [];
          list.push({ recordNo, ...verdict.candidate });
          byChunk.set(row.chunk_no, list);
        } else {
          failed.push({ recordNo, reasonCode: verdict.reasonCode, issues: verdict.issues, source });
        }
      }
      for (const [chunkNo, all] of byChunk) {
        let candidates = all;
        const refusal = deliver ? await deliver(tx, chunkNo, all) : null;
        if (refusal) {
          candidates = all.filter((c) => !refusal.keys.has(c.idempotencyKey));
          byChunk.set(chunkNo, candidates);
          for (const c of all.filter((x) => refusal.keys.has(x.idempotencyKey))) {
            const issues = [{ path: '', code: 'commit_rejected', message: refusal.message }];
            failed.push({
              recordNo: c.recordNo,
              reasonCode: 'commit_rejected',
              issues,
              source: sources.get(c.recordNo)!,
            });
          }
        }
        const r = await insertLedgerAndDispositions(tx, batchId, profile, chunkNo, candidates, {
          status: 'approved',
          update: who,
        });
        approved += r.committed;
        duplicates += r.duplicates;
      }
      const approvedNos = [...byChunk.values()].flat().map((c) => c.recordNo);
      await appendRecordAudit(tx, {
        batchId,
        event: decision.action === 'amend' ? 'amended_and_committed' : 'approved_and_committed',
        actor: decision.reviewer,
        recordNos: approvedNos,
        details: approvedNos.map(() => ({ decision_id: decision.decisionId, note: decision.note ?? null, patch })),
      });
      // Records that still fail validation stay held, with their new issues (and amended fields) recorded.
      for (const f of failed) {
        await tx.query(
          `UPDATE record_disposition SET reason_code = $3, issues = $4, source = $5, error_signature = $6,
                  updated_at = now()
            WHERE batch_id = $1 AND record_no = $2`,
          [
            batchId,
            f.recordNo,
            f.reasonCode,
            JSON.stringify(f.issues),
            JSON.stringify(f.source),
            errorSignature(f.issues),
          ],
        );
      }
      stillHeld = failed.length;
      await appendRecordAudit(tx, {
        batchId,
        event: 'decision_not_applicable',
        actor: decision.reviewer,
        recordNos: failed.map((f) => f.recordNo),
        details: failed.map((f) => ({ decision_id: decision.decisionId, reason_code: f.reasonCode, issues: f.issues })),
      });
    }

    const counts = await countDispositions(tx, batchId);
    const outcome: ReviewOutcome = {
      decisionId: decision.decisionId,
      applied: true,
      selected: selected.rowCount ?? 0,
      approved,
      rejected,
      duplicates,
      stillHeld,
      counts,
    };
    await tx.query(`UPDATE review_decision SET outcome = $3 WHERE batch_id = $1 AND decision_id = $2`, [
      batchId,
      decision.decisionId,
      JSON.stringify(outcome),
    ]);
    await appendAudit(tx, {
      batchId,
      event: 'review_decision',
      actor: decision.reviewer,
      detail: { ...outcome, counts: undefined, action: decision.action, note: decision.note ?? null },
    });
    return outcome;
  });
}

/** Rejects every record still pending (review deadline passed). */
export async function expirePending(db: Db, batchId: string): Promise<RecordCounts> {
  return withTransaction(db, async (tx) => {
    const res = await tx.query<{ record_no: string }>(
      `UPDATE record_disposition SET status = 'rejected', reason_code = 'review_timeout', decided_by = 'sluice',
              decided_at = now(), updated_at = now()
        WHERE batch_id = $1 AND status = 'quarantined' RETURNING record_no`,
      [batchId],
    );
    const nos = res.rows.map((r) => Number(r.record_no));
    await appendRecordAudit(tx, {
      batchId,
      event: 'rejected',
      actor: 'sluice',
      recordNos: nos,
      details: nos.map(() => ({ reason_code: 'review_timeout' })),
    });
    return countDispositions(tx, batchId);
  });
}

export async function recordRejectedDecision(db: Db, batchId: string, payload: unknown, error: string): Promise<void> {
  await appendAudit(db, { batchId, event: 'decision_rejected', detail: { error, payload } });
}

/**
 * Patches a record's fields. Keys are paths into the record: `quantity`, `header.currency`, `lines[2].hs_code`.
 * A string sets the text; null removes the field; any other JSON value is set as is where the field already holds a
 * number, boolean, object or array, and as its JSON text where it holds text or nothing (flat CSV records are text).
 * Throws for a path through something that is not there (`lines[9]` of a 3-line invoice) or a reserved name.
 */
export function applyPatch(source: SourceFields, patch: Record<string, unknown>): SourceFields {
  const out = structuredClone(source);
  for (const [path, value] of Object.entries(patch)) {
    const steps = parsePatchPath(path);
    let parent: Record<string, unknown> | unknown[] = out;
    for (const step of steps.slice(0, -1)) {
      const next: unknown = (parent as Record<string | number, unknown>)[step];
      if (typeof next !== 'object' || next === null)
        throw new Error(`patch path "${path}": no ${String(step)} in the record`);
      parent = next as Record<string, unknown> | unknown[];
    }
    const last = steps[steps.length - 1]!;
    const holder = parent as Record<string | number, unknown>;
    if (Array.isArray(parent) && (typeof last !== 'number' || last >= parent.length)) {
      throw new Error(`patch path "${path}": no element ${String(last)} (the list has ${parent.length})`);
    }
    const existing = holder[last];
    if (value === null) {
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete holder[last];
    } else if (typeof value === 'string' || existing === undefined || typeof existing === 'string') {
      holder[last] = typeof value === 'string' ? value : JSON.stringify(value);
    } else {
      holder[last] = value;
    }
  }
  return out;
}

const RESERVED = new Set(['__proto__', 'prototype', 'constructor']);

/** `lines[2].hs_code` -> ['lines', 2, 'hs_code']. */
function parsePatchPath(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m || (m[1] === '' && m[2] === ''))
      throw new Error(`patch path "${path}" is not like field, a.b or lines[2].code`);
    if (m[1] !== '') steps.push(m[1]!);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) steps.push(Number(idx[1]));
  }
  for (const step of steps) {
    if (typeof step === 'string' && RESERVED.has(step)) throw new Error(`patch path "${path}" uses a reserved name`);
  }
  return steps;
}
