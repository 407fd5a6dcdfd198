/**
 * Reference data: imported by kind (`sluice reference import <kind> <file>`), looked up by key while classifying.
 * An import replaces the kind's entries in one transaction, so a classification never sees half an import.
 */
import type { ReferenceEntry, ReferenceLookup } from '../profiles/types.ts';
import type { Db } from './db.ts';
import { withTransaction } from './db.ts';

const INSERT_PAGE = 1000;

export interface ReferenceImport {
  kind: string;
  fileName: string;
  sha256: string;
  entries: number;
  importedAt: string;
}

/** Replaces every entry of `kind` with `entries`; a key given twice keeps the last. Returns the import's record. */
export async function importReference(
  db: Db,
  kind: string,
  source: { fileName: string; sha256: string },
  entries: AsyncIterable<ReferenceEntry>,
  onProgress?: (count: number) => void,
): Promise<ReferenceImport> {
  return withTransaction(db, async (tx) => {
    await tx.query('DELETE FROM reference_entry WHERE kind = $1', [kind]);
    let page: ReferenceEntry[] = [];
    let count = 0;
    const flush = async (): Promise<void> => {
      if (page.length === 0) return;
      await tx.query(
        `INSERT INTO reference_entry (kind, key, data)
           SELECT $1, e.key, e.data FROM jsonb_to_recordset($2::jsonb) AS e(key text, data jsonb)
         ON CONFLICT (kind, key) DO UPDATE SET data = EXCLUDED.data`,
        [kind, JSON.stringify(dedupeLast(page))],
      );
      count += page.length;
      page = [];
      onProgress?.(count);
    };
    for await (const entry of entries) {
      page.push(entry);
      if (page.length >= INSERT_PAGE) await flush();
    }
    await flush();
    const { rows } = await tx.query(
      `INSERT INTO reference_import (kind, file_name, sha256, entries) VALUES ($1, $2, $3,
         (SELECT count(*) FROM reference_entry WHERE kind = $1))
       ON CONFLICT (kind) DO UPDATE SET file_name = EXCLUDED.file_name, sha256 = EXCLUDED.sha256,
         entries = EXCLUDED.entries, imported_at = now()
       RETURNING kind, file_name, sha256, entries, imported_at`,
      [kind, source.fileName, source.sha256],
    );
    return toImport(rows[0]);
  });
}

export async function listReferenceImports(db: Db): Promise<ReferenceImport[]> {
  const { rows } = await db.query(
    'SELECT kind, file_name, sha256, entries, imported_at FROM reference_import ORDER BY kind',
  );
  return rows.map(toImport);
}

/** The lookups profiles classify with, one query per call. */
export function referenceLookup(db: Db): ReferenceLookup {
  return {
    async reference(kind, keys) {
      const out = new Map<string, unknown>();
      if (keys.length === 0) return out;
      const { rows } = await db.query('SELECT key, data FROM reference_entry WHERE kind = $1 AND key = ANY($2)', [
        kind,
        [...new Set(keys)],
      ]);
      for (const r of rows) out.set(r.key as string, r.data);
      return out;
    },
    async ledger(profile, businessKeys) {
      const out = new Map<string, unknown>();
      if (businessKeys.length === 0) return out;
      const { rows } = await db.query(
        'SELECT business_key, payload FROM ledger WHERE profile = $1 AND business_key = ANY($2) ORDER BY committed_at',
        [profile, [...new Set(businessKeys)]],
      );
      for (const r of rows) out.set(r.business_key as string, r.payload);
      return out;
    },
  };
}

function dedupeLast(page: ReferenceEntry[]): ReferenceEntry[] {
  return [...new Map(page.map((e) => [e.key, e])).values()];
}

function toImport(r: Record<string, unknown>): ReferenceImport {
  return {
    kind: r.kind as string,
    fileName: r.file_name as string,
    sha256: r.sha256 as string,
    entries: Number(r.entries),
    importedAt: (r.imported_at as Date).toISOString(),
  };
}
