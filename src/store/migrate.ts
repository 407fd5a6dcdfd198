/**
 * Plain-SQL migrations in src/store/migrations, applied in file-name order, each in its own transaction, under an
 * advisory lock so that several workers starting at once apply each migration exactly once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';
import { withTransaction } from './db.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const LOCK_KEY = 7_160_001; // arbitrary, constant: "sluice migrations"

export async function migrate(db: Db, log: (msg: string) => void = () => undefined): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  const lock = await db.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await lock.query(
      'CREATE TABLE IF NOT EXISTS sluice_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await lock.query<{ name: string }>('SELECT name FROM sluice_migration')).rows.map((r) => r.name),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(MIGRATIONS_DIR + file, 'utf8');
      await withTransaction(db, async (tx) => {
        await tx.query(sql);
        await tx.query('INSERT INTO sluice_migration (name) VALUES ($1)', [file]);
      });
      log(`applied migration ${file}`);
      applied.push(file);
    }
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    lock.release();
  }
  return applied;
}
