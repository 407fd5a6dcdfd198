/**
 * Delivery to an HTTP commit target, run inside the transaction that then writes the ledger (a chunk's commit, or a
 * review decision's approvals): locks the records' keys, sends the first record of each key the ledger does not hold
 * yet, and says which keys the API refused for good. A concurrent transaction with the same key waits on the lock,
 * then finds the key in the ledger, so no record reaches the API twice.
 */
import type { CommitCandidate } from '../store/commit.ts';
import { ledgeredKeys, lockIdempotencyKeys } from '../store/commit.ts';
import type { Tx } from '../store/db.ts';
import { postChunk } from '../targets/http-target.ts';
import type { HttpTarget } from '../targets/http-target.ts';

export interface Refusal {
  /** Keys refused: every record with one of them stays out of the ledger (held as `commit_rejected`). */
  keys: Set<string>;
  message: string;
}

export async function deliverOverHttp(
  tx: Tx,
  target: HttpTarget,
  chunk: { batchId: string; chunkNo: number; profile: string },
  candidates: readonly CommitCandidate[],
): Promise<Refusal | null> {
  if (candidates.length === 0) return null;
  const keys = candidates.map((c) => c.idempotencyKey);
  await lockIdempotencyKeys(tx, keys);
  const known = await ledgeredKeys(tx, keys);
  const fresh: CommitCandidate[] = [];
  for (const c of [...candidates].sort((x, y) => x.recordNo - y.recordNo)) {
    if (known.has(c.idempotencyKey)) continue;
    known.add(c.idempotencyKey);
    fresh.push(c);
  }
  if (fresh.length === 0) return null;
  // The API gets each record's keys and payload only (not the fields as read that a candidate may carry).
  const records = fresh.map(({ recordNo, idempotencyKey, businessKey, payload }) => ({
    recordNo,
    idempotencyKey,
    businessKey,
    payload,
  }));
  const outcome = await postChunk(target, { ...chunk, records });
  if (outcome.kind !== 'rejected') return null;
  return {
    keys: new Set(fresh.map((c) => c.idempotencyKey)),
    message: `${target.url} refused the records with HTTP ${outcome.status}: ${outcome.body}`,
  };
}
