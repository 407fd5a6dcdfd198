/**
 * What an integration test needs: the shared stack's addresses (from global-setup), a client, a database handle,
 * an in-process worker, and a few checks on the store's invariants.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, inject } from 'vitest';
import pg from 'pg';
import type { SluiceEnv } from '../../src/config/env.ts';
import { SluiceClient } from '../../src/client/sluice-client.ts';
import { resolveBatchConfig } from '../../src/config/batch-config.ts';
import type { BatchConfig } from '../../src/shared/contracts.ts';
import { startWorker } from '../../src/workers/worker.ts';
import type { AuditReport } from '../../src/audit/batch-audit.ts';
import { auditBatch } from '../../src/audit/batch-audit.ts';
import { getProfile } from '../../src/profiles/index.ts';
import { createLocalBlobStore } from '../../src/store/blobs.ts';
import { createDb } from '../../src/store/db.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function testEnv(): SluiceEnv {
  const home = inject('sluiceHome');
  return {
    temporalAddress: inject('temporalAddress'),
    namespace: 'default',
    databaseUrl: inject('databaseUrl'),
    blobDir: path.join(home, 'blobs'),
    uiUrl: inject('temporalUiUrl') ?? '',
    external: { temporal: true, database: true },
  };
}

/** Environment for child processes (CLI, worker) that must use the test stack. */
export function childEnv(): NodeJS.ProcessEnv {
  const env = testEnv();
  return {
    ...process.env,
    TEMPORAL_ADDRESS: env.temporalAddress,
    DATABASE_URL: env.databaseUrl,
    SLUICE_BLOB_DIR: env.blobDir,
    SLUICE_HOME: inject('sluiceHome'),
  };
}

export async function workDir(name: string): Promise<string> {
  const dir = path.join(inject('sluiceHome'), 'work', name);
  await mkdir(dir, { recursive: true });
  return dir;
}

export const startTestWorker = () => startWorker({ ...testEnv(), log: () => undefined });
export const connectClient = () => SluiceClient.connect(testEnv());
export const connectDb = () => new pg.Pool({ connectionString: testEnv().databaseUrl, max: 3 });

/** Small chunks and short timeouts, so that tests exercise many chunks and recover from a dead worker quickly. */
export function testConfig(overrides: Record<string, unknown> = {}): BatchConfig {
  return resolveBatchConfig({
    batch_config: {
      max_chunk_size: 500,
      max_concurrent_chunks: 4,
      timeout_seconds: 20,
      retry_policy: { initial_interval_seconds: 0.2, max_interval_seconds: 2 },
      ...overrides,
    },
  });
}

/** Runs the CLI as a user would (node bin/sluice.js ...), against the test stack. */
export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/sluice.js'), ...args], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A worker in its own process, so that a test can SIGKILL it. */
export function spawnWorkerProcess(): ChildProcess {
  return spawn(process.execPath, [path.join(REPO_ROOT, 'bin/sluice.js'), 'worker'], {
    env: childEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/** The store's invariants for one batch: one disposition per record, no idempotency key twice in the ledger. */
export async function checkInvariants(db: pg.Pool, batchId: string, records: number): Promise<void> {
  // Fresh tables have no statistics yet, and the planner would nest-loop the joins below over every row.
  await db.query('ANALYZE ledger, record_disposition');
  const dispositions = await db.query(
    `SELECT count(*)::int AS n, count(DISTINCT record_no)::int AS distinct_n, min(record_no)::int AS lo, max(record_no)::int AS hi
       FROM record_disposition WHERE batch_id = $1`,
    [batchId],
  );
  const d = dispositions.rows[0];
  if (d.n !== records || d.distinct_n !== records || d.lo !== 1 || d.hi !== records) {
    throw new Error(`batch ${batchId}: dispositions ${JSON.stringify(d)} do not cover records 1..${records} once each`);
  }
  const committedWithoutLedger = await db.query(
    `SELECT count(*)::int AS n FROM record_disposition d
       LEFT JOIN ledger l ON l.batch_id = d.batch_id AND l.record_no = d.record_no
      WHERE d.batch_id = $1 AND d.status IN ('committed', 'approved') AND l.idempotency_key IS NULL`,
    [batchId],
  );
  if (committedWithoutLedger.rows[0].n !== 0) {
    throw new Error(`batch ${batchId}: ${committedWithoutLedger.rows[0].n} committed record(s) have no ledger row`);
  }
  const ledgerWithoutCommitted = await db.query(
    `SELECT count(*)::int AS n FROM ledger l
       LEFT JOIN record_disposition d ON d.batch_id = l.batch_id AND d.record_no = l.record_no
      WHERE l.batch_id = $1 AND (d.status IS NULL OR d.status NOT IN ('committed', 'approved'))`,
    [batchId],
  );
  if (ledgerWithoutCommitted.rows[0].n !== 0) {
    throw new Error(`batch ${batchId}: ${ledgerWithoutCommitted.rows[0].n} ledger row(s) are not committed records`);
  }
}

/** Records ever held for review in a batch, per reason code (to compare with a generator's `byReason`). */
export async function heldByReason(db: pg.Pool, batchId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ reason_code: string; n: number }>(
    'SELECT reason_code, count(*)::int AS n FROM record_disposition WHERE batch_id = $1 AND held GROUP BY 1',
    [batchId],
  );
  return Object.fromEntries(rows.map((r) => [r.reason_code, r.n]));
}

/** Runs the audit of a batch and fails the test with the failing checks unless every check passes. */
export async function expectAuditConsistent(batchId: string): Promise<AuditReport> {
  const env = testEnv();
  const client = await SluiceClient.connect(env);
  const db = createDb(env.databaseUrl, { max: 2 });
  try {
    let records = 0;
    const report = await auditBatch(
      { db, blobs: createLocalBlobStore(env.blobDir), temporal: client.temporal, getProfile },
      batchId,
      () => {
        records += 1;
      },
    );
    const failed = report.checks.filter((c) => !c.ok);
    if (failed.length > 0 || records !== report.records - report.notProcessed) {
      throw new Error(
        `audit of ${batchId} is inconsistent (${records} journeys for ${report.records} records):\n` +
          failed.map((c) => `  ${c.name}: ${c.detail}`).join('\n'),
      );
    }
    return report;
  } finally {
    await db.end();
    await client.close();
  }
}

export interface SluiceTest {
  sluice: SluiceClient;
  db: pg.Pool;
  /** A work folder of this test file under the test run's SLUICE_HOME. */
  dir: string;
}

/**
 * Registers the usual hooks of an integration test file: an in-process worker (unless `worker: false`, for tests
 * that run their own worker processes), a client, a database pool and a work folder; all closed after the file.
 */
export function useSluiceTest(name: string, opts: { worker?: boolean } = {}): SluiceTest {
  const t = {} as SluiceTest;
  let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
  beforeAll(async () => {
    if (opts.worker !== false) worker = await startTestWorker();
    t.sluice = await connectClient();
    t.db = connectDb();
    t.dir = await workDir(name);
  });
  afterAll(async () => {
    await worker?.shutdown();
    await t.sluice?.close();
    await t.db?.end();
  });
  return t;
}
