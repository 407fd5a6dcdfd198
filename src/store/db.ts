/**
 * The only module that imports `pg` (with the other files of src/store). One pool per process; transactions run on
 * one checked-out client with release in `finally`; parameters are never logged.
 */
import pg from 'pg';

export type Db = pg.Pool;
export type Tx = pg.PoolClient;

export function createDb(url: string, opts: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'sluice',
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the worker; the next query reconnects.
  pool.on('error', (err) => console.error(`sluice: idle PostgreSQL connection failed: ${err.message}`));
  return pool;
}

export async function withTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  const tx = await db.connect();
  try {
    await tx.query('BEGIN');
    const result = await fn(tx);
    await tx.query('COMMIT');
    return result;
  } catch (err) {
    await tx.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    tx.release();
  }
}

/**
 * PostgreSQL errors worth retrying: serialization failure, deadlock, lock timeout, connection and resource trouble,
 * admin shutdown. Anything else with a SQLSTATE (constraint and data errors) is a bug or bad data, not a blip.
 */
export function isTransientDbError(err: unknown): boolean {
  if (!isDatabaseError(err)) return true; // network errors (ECONNREFUSED, ECONNRESET), timeouts, pool exhaustion
  const code = err.code ?? '';
  if (code === '40001' || code === '40P01' || code === '55P03') return true;
  return /^(08|53|57P)/.test(code);
}

/** An error reported by the PostgreSQL server itself (it carries a SQLSTATE), as opposed to a connection failure. */
export function isDatabaseError(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError;
}
