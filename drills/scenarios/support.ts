/**
 * Small helpers shared by the drill scenarios of issue #5 that need more than the harness gives: polling, hand-made
 * inventory manifests with their oracle, run counts, history payload sizes, the CLI against the drill stack.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { committedKeyHash, csvCell } from '../../src/profiles/generator-kit.ts';
import type { ExpectedOutcome } from '../../src/profiles/types.ts';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import type { DrillContext, ScenarioRun } from '../types.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type Check = NonNullable<ScenarioRun['checks']>[number];

export const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail });

/** A fresh tag per run, so that repeated runs on one stack never share bytes, batch ids or idempotency keys. */
export const runTag = (): string => randomBytes(4).toString('hex').toUpperCase();

/** Dispositions of a batch by status. */
export async function statusCounts(db: pg.Pool, batchId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    'SELECT status, count(*)::int AS n FROM record_disposition WHERE batch_id = $1 GROUP BY status',
    [batchId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Runs of a batch workflow (continue-as-new makes several). */
export async function countRuns(client: Client, batchId: string): Promise<number> {
  const { count } = await client.workflow.count(`WorkflowId = "${batchWorkflowId(batchId)}"`);
  return count;
}

/** The drill stack's blob folder: the client and workers must share it (local blob store). */
export function blobDirOf(ctx: DrillContext): string | undefined {
  const dir = (ctx.stack as { blobDir?: unknown }).blobDir;
  return typeof dir === 'string' ? dir : undefined;
}

/** The drill stack's log folder (Temporal's and PostgreSQL's server logs), when the harness exposes it. */
export function logDirOf(ctx: DrillContext): string | undefined {
  const dir = (ctx.stack as { logDir?: unknown }).logDir;
  return typeof dir === 'string' ? dir : undefined;
}

/** Environment for `node bin/sluice.js ...` against the drill stack. */
export function cliEnv(ctx: DrillContext): NodeJS.ProcessEnv {
  const blobDir = blobDirOf(ctx);
  return {
    ...process.env,
    TEMPORAL_ADDRESS: ctx.stack.temporalAddress,
    DATABASE_URL: ctx.stack.databaseUrl,
    ...(blobDir ? { SLUICE_BLOB_DIR: blobDir } : {}),
  };
}

/** Runs the CLI as a user would; resolves with its exit code and output. */
export function runCli(
  ctx: DrillContext,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/sluice.js'), ...args], {
      env: cliEnv(ctx),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, pid: child.pid ?? 0 }));
  });
}

/** Writes a batch configuration as a `--config` file for the CLI (the resolved shape is a valid file). */
export async function writeConfigFile(file: string, config: unknown): Promise<string> {
  await writeFile(file, `${JSON.stringify({ batch_config: config }, null, 2)}\n`);
  return file;
}

/** Lines of a server log written after `fromByte` that match `pattern`. */
export async function logLines(file: string, fromByte: number, pattern: RegExp): Promise<string[]> {
  const text = await readFile(file).catch(() => Buffer.alloc(0));
  return text
    .subarray(fromByte)
    .toString('utf8')
    .split('\n')
    .filter((l) => pattern.test(l));
}

export async function fileSize(file: string): Promise<number> {
  return (await readFile(file).catch(() => Buffer.alloc(0))).length;
}

/** One inventory manifest row, as text (CSV cells). */
export interface InventoryRow {
  asset_id: string;
  grant_code: string;
  category: string;
  quantity: string;
  location: string;
  acquisition_date: string;
}

export const INVENTORY_COLUMNS = [
  'asset_id',
  'grant_code',
  'category',
  'quantity',
  'location',
  'acquisition_date',
] as const;

/** What must become of a hand-written row. */
export type Fate = { kind: 'committed' } | { kind: 'duplicate' } | { kind: 'held'; reason: string };

/** The business key the inventory profile derives from a row: `<asset_id>/<GRANT_CODE>`, trimmed. */
export const businessKeyOf = (row: InventoryRow): string =>
  `${row.asset_id.trim()}/${row.grant_code.trim().toUpperCase()}`;

/**
 * A hand-made inventory manifest and its oracle: each row is added with what must become of it. Record numbers are
 * 1-based in row order (the header is not a record).
 */
export class ManifestBuilder {
  readonly rows: InventoryRow[] = [];
  readonly fates: Fate[] = [];

  constructor(readonly seed: number) {}

  /** Adds a row; returns its record number. */
  add(row: InventoryRow, fate: Fate): number {
    this.rows.push(row);
    this.fates.push(fate);
    return this.rows.length;
  }

  get size(): number {
    return this.rows.length;
  }

  row(recordNo: number): InventoryRow {
    const r = this.rows[recordNo - 1];
    if (!r) throw new Error(`no record ${recordNo}`);
    return r;
  }

  async write(file: string): Promise<string> {
    const lines = [INVENTORY_COLUMNS.join(',')];
    for (const r of this.rows) lines.push(INVENTORY_COLUMNS.map((c) => csvCell(r[c])).join(','));
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }

  /** The oracle: counts, held records per reason, and the content of the records committed without review. */
  expected(): ExpectedOutcome {
    const out: ExpectedOutcome = {
      profile: 'inventory',
      records: this.rows.length,
      committed: 0,
      duplicates: 0,
      quarantined: 0,
      byReason: {},
      seed: this.seed,
    };
    const keys: string[] = [];
    let sum = 0n;
    this.rows.forEach((row, i) => {
      const fate = this.fates[i]!;
      if (fate.kind === 'committed') {
        out.committed++;
        keys.push(businessKeyOf(row));
        sum += BigInt(row.quantity.trim());
      } else if (fate.kind === 'duplicate') out.duplicates++;
      else {
        out.quarantined++;
        out.byReason[fate.reason] = (out.byReason[fate.reason] ?? 0) + 1;
      }
    });
    out.committedSum = { field: 'quantity', value: sum.toString() };
    out.committedKeyHash = committedKeyHash(keys);
    return out;
  }
}
