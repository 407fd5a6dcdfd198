/**
 * Reading a batch's ledger rows in record order, in pages (a batch may hold millions), and the deterministic ledger
 * hash: SHA-256 over `record_no TAB idempotency_key TAB business_key TAB payload NL` for every committed row of the
 * batch in record order. Payloads are jsonb, whose text form PostgreSQL normalises, and no timestamp or batch id
 * enters the hash, so for a file whose business keys are unique the same input bytes and decisions give the same hash
 * in any database (with repeated keys, which record of a key is committed can depend on commit timing).
 */
import { createHash } from 'node:crypto';
import type { Db } from './db.ts';

export interface LedgerRow {
  recordNo: number;
  idempotencyKey: string;
  businessKey: string;
  payloadText: string;
}

const PAGE = 10_000;

export async function* ledgerRows(
  db: Db,
  batchId: string,
  range?: { from: number; to: number },
): AsyncGenerator<LedgerRow> {
  let after = (range?.from ?? 1) - 1;
  const to = range?.to ?? Number.MAX_SAFE_INTEGER;
  for (;;) {
    const { rows } = await db.query(
      `SELECT record_no, idempotency_key, business_key, payload::text AS payload FROM ledger
        WHERE batch_id = $1 AND record_no > $2 AND record_no <= $3 ORDER BY record_no LIMIT $4`,
      [batchId, after, to, PAGE],
    );
    for (const r of rows) {
      yield {
        recordNo: Number(r.record_no),
        idempotencyKey: r.idempotency_key,
        businessKey: r.business_key,
        payloadText: r.payload,
      };
    }
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1].record_no);
  }
}

export async function ledgerHash(db: Db, batchId: string): Promise<{ hash: string; rows: number }> {
  const hash = createHash('sha256');
  let rows = 0;
  for await (const r of ledgerRows(db, batchId)) {
    hash.update(`${r.recordNo}\t${r.idempotencyKey}\t${r.businessKey}\t${r.payloadText}\n`);
    rows += 1;
  }
  return { hash: hash.digest('hex'), rows };
}
