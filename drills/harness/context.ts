/**
 * The DrillContext a scenario gets: a client and a database pool on the drill stack, worker processes it can kill by
 * pid, manifests with their oracles, and a batch configuration with small chunks and short timeouts.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SluiceClient } from '../../src/client/sluice-client.ts';
import { resolveBatchConfig } from '../../src/config/batch-config.ts';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import type { InventoryDefectRates } from '../../src/profiles/inventory/generator.ts';
import type { BatchConfig } from '../../src/shared/contracts.ts';
import type { DrillContext, DrillWorker } from '../types.ts';
import type { RunningDrillStack } from './stack.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How long a new worker may take to connect, migrate and bundle its workflows before spawnWorker gives up. */
const WORKER_READY_TIMEOUT_MS = 90_000;

/** Defects of a drill manifest unless the scenario names its own: every path, and duplicates across chunks. */
export const DRILL_DEFECTS: InventoryDefectRates = {
  invalid_grant_code: 0.01,
  invalid_quantity: 0.01,
  nonstandard_location: 0.01,
  quantity_outlier: 0.005,
  duplicate: 0.02,
};

/**
 * Drill batches: chunks of 300 records, 4 at once, 15 s per stage attempt (so a commit's heartbeat timeout is 15 s),
 * and retries that ride out a minute or two of outage (up to 30 attempts, backoff capped at 4 s) instead of failing
 * the chunk. `overrides` are `batch_config` keys; `retry_policy` and `stages` are merged, not replaced.
 */
export function drillConfig(overrides: Record<string, unknown> = {}): BatchConfig {
  const { retry_policy, stages, ...rest } = overrides as {
    retry_policy?: Record<string, unknown>;
    stages?: Record<string, unknown>;
  };
  return resolveBatchConfig(
    {
      batch_config: {
        max_chunk_size: 300,
        max_concurrent_chunks: 4,
        timeout_seconds: 15,
        ...rest,
        retry_policy: {
          initial_interval_seconds: 0.5,
          backoff_multiplier: 2,
          max_interval_seconds: 4,
          max_attempts: 30,
          ...retry_policy,
        },
        ...(stages ? { stages } : {}),
      },
    },
    undefined,
    'drill config',
  );
}

export interface SpawnedWorker extends DrillWorker {
  logFile: string;
  alive(): boolean;
}

export interface DrillRun {
  ctx: DrillContext;
  /** Every worker this run started, dead or alive. */
  workers: SpawnedWorker[];
  /** Stops the run's workers (SIGTERM, then SIGKILL) and closes the client and the pool. */
  dispose(): Promise<void>;
}

export async function createDrillRun(opts: {
  stack: RunningDrillStack;
  /** Folder name of this run, e.g. `clean-run-1`. */
  name: string;
  /** Added to every seed the scenario asks for, so runs on the same stack never share an idempotency key. */
  seedBase: number;
  log: (msg: string) => void;
}): Promise<DrillRun> {
  const { stack, log } = opts;
  const dir = path.join(stack.home, 'work', opts.name);
  await mkdir(dir, { recursive: true });
  const client = await SluiceClient.connect({
    temporalAddress: stack.temporalAddress,
    namespace: 'default',
    blobDir: stack.blobDir,
  });
  const db = new pg.Pool({ connectionString: stack.databaseUrl, max: 4, application_name: 'sluice-drill' });
  // Idle connections die when a drill stops PostgreSQL; that must not crash the harness.
  db.on('error', () => undefined);
  const workers: SpawnedWorker[] = [];

  const spawnWorker = async (o: { env?: Record<string, string>; args?: string[] } = {}): Promise<DrillWorker> => {
    const logFile = path.join(dir, `worker-${workers.length + 1}.log`);
    const fd = openSync(logFile, 'a');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: stack.databaseUrl,
      SLUICE_BLOB_DIR: stack.blobDir,
      SLUICE_HOME: stack.home,
    };
    delete env.SLUICE_DRILL_FAULT; // only the scenario decides which worker carries a fault
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/sluice.js'), 'worker', ...(o.args ?? [])], {
      env: { ...env, ...o.env },
      stdio: ['ignore', fd, fd],
      cwd: REPO_ROOT,
    });
    closeSync(fd);
    let exitedWith: number | string | undefined;
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        exitedWith = signal ?? code ?? -1;
        resolve(exitedWith);
      });
      child.once('error', (err) => {
        exitedWith = err.message;
        resolve(exitedWith);
      });
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start a worker: ${String(await exited)}`);
    const worker: SpawnedWorker = {
      pid,
      exited,
      logFile,
      alive: () => exitedWith === undefined,
      kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (exitedWith === undefined) child.kill(signal);
      },
    };
    workers.push(worker);

    // Ready once it polls: the worker says so after connecting, migrating and bundling the workflows.
    const started = Date.now();
    for (;;) {
      const text = readFileSync(logFile, 'utf8');
      if (text.includes('worker listening on task queue')) break;
      if (exitedWith !== undefined) {
        throw new Error(`worker ${pid} exited (${exitedWith}) before it was ready:\n${text.slice(-2000)}`);
      }
      if (Date.now() - started > WORKER_READY_TIMEOUT_MS) {
        worker.kill('SIGKILL');
        throw new Error(`worker ${pid} not ready after ${WORKER_READY_TIMEOUT_MS / 1000} s; log ${logFile}`);
      }
      await sleep(100);
    }
    const extra = o.env && Object.keys(o.env).length > 0 ? ` with ${Object.keys(o.env).join(', ')}` : '';
    log(`worker ${pid} ready in ${((Date.now() - started) / 1000).toFixed(1)} s${extra}`);
    return worker;
  };

  const ctx: DrillContext = {
    stack,
    client,
    db,
    dir,
    log,
    spawnWorker,
    liveWorkers: () => workers.filter((w) => w.alive()),
    async generate(name, o) {
      const file = path.join(dir, name.endsWith('.csv') ? name : `${name}.csv`);
      const expected = await generateInventoryManifest(file, {
        records: o.records,
        seed: opts.seedBase + o.seed,
        defects: (o.defects as InventoryDefectRates | undefined) ?? DRILL_DEFECTS,
      });
      return { file, expected };
    },
    config: drillConfig,
  };

  return {
    ctx,
    workers,
    async dispose() {
      const alive = workers.filter((w) => w.alive());
      for (const w of alive) w.kill('SIGTERM');
      await Promise.race([Promise.all(alive.map((w) => w.exited)), sleep(15_000)]);
      for (const w of alive) w.kill('SIGKILL');
      await Promise.all(alive.map((w) => w.exited));
      await client.close().catch(() => undefined);
      await db.end().catch(() => undefined);
    },
  };
}
