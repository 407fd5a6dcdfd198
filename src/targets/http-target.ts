/**
 * The HTTP commit target: each chunk's new records go to an API as one POST with an `Idempotency-Key` header, before
 * sluice records them in its ledger. 2xx means accepted and 409 means the API has this key already (a retry after a
 * crash between its answer and our ledger write): both let the commit go on. 5xx, 429, timeouts and network errors
 * throw a retryable error, so the commit stage's retry policy backs off and tries again with the same key. Any other
 * 4xx is a refusal of these records for good: the caller holds them for review as `commit_rejected`.
 */
import { createHash } from 'node:crypto';
import type { CommitTarget } from '../shared/contracts.ts';

export type HttpTarget = Extract<CommitTarget, { type: 'http' }>;

export type HttpCommitOutcome =
  { kind: 'accepted' | 'already'; status: number } | { kind: 'rejected'; status: number; body: string };

/** The API could not be reached or had trouble; retrying may help. */
export class DownstreamUnavailableError extends Error {
  override name = 'DownstreamUnavailableError';
}

export interface HttpCommitRecord {
  recordNo: number;
  idempotencyKey: string;
  businessKey: string;
  payload: unknown;
}

/** One key per chunk content: the same records always give the same key, whichever attempt sends them. */
export function chunkIdempotencyKey(batchId: string, chunkNo: number, records: readonly HttpCommitRecord[]): string {
  const hash = createHash('sha256').update(`${batchId}\u001f${chunkNo}`);
  for (const key of records.map((r) => r.idempotencyKey).sort()) hash.update(`\u001f${key}`);
  return hash.digest('hex');
}

const BODY_EXCERPT = 500;

export async function postChunk(
  target: HttpTarget,
  body: { batchId: string; chunkNo: number; profile: string; records: readonly HttpCommitRecord[] },
): Promise<HttpCommitOutcome> {
  const key = chunkIdempotencyKey(body.batchId, body.chunkNo, body.records);
  let response: Response;
  try {
    response = await fetch(target.url, {
      method: 'POST',
      headers: { ...target.headers, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(target.timeout_seconds * 1000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new DownstreamUnavailableError(
      `POST ${target.url} failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}; will retry`,
    );
  }
  const text = await response.text().catch(() => '');
  if (response.ok) return { kind: 'accepted', status: response.status };
  if (response.status === 409) return { kind: 'already', status: 409 };
  if (response.status >= 500 || response.status === 429 || response.status === 408) {
    throw new DownstreamUnavailableError(
      `POST ${target.url} answered ${response.status}: ${text.slice(0, BODY_EXCERPT)}; will retry`,
    );
  }
  return { kind: 'rejected', status: response.status, body: text.slice(0, BODY_EXCERPT) };
}
