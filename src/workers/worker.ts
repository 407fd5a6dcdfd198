/**
 * The worker composition root: connects to Temporal and PostgreSQL, builds the activities from their dependencies,
 * and hosts the batch and chunk workflows on the ingest task queue.
 */
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/worker';
import { createActivities } from '../activities/index.ts';
import { getProfile } from '../profiles/index.ts';
import { TASK_QUEUE } from '../shared/task-queues.ts';
import { createLocalBlobStore } from '../store/blobs.ts';
import { createDb } from '../store/db.ts';
import { migrate } from '../store/migrate.ts';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  blobDir: string;
  taskQueue?: string;
  /** Activity tasks at once (commits run here; the local stages run alongside workflow tasks). */
  maxConcurrentActivities?: number;
  log?: (msg: string) => void;
}

export interface RunningWorker {
  worker: Worker;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * For CLI processes: Temporal's runtime logs at WARN (SLUICE_LOG_LEVEL to change) on stderr. Must run before any
 * connection or worker exists; later calls are no-ops.
 */
export function installWorkerRuntime(): void {
  const level = (process.env.SLUICE_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel;
  try {
    Runtime.install({ logger: new DefaultLogger(level) });
  } catch {
    // already installed: the first configuration wins
  }
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const log = opts.log ?? (() => undefined);
  const db = createDb(opts.databaseUrl, { max: 20, applicationName: 'sluice-worker' });
  await migrate(db, log);
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue ?? TASK_QUEUE.ingest,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities({ db, blobs: createLocalBlobStore(opts.blobDir), getProfile }),
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 16,
    maxConcurrentLocalActivityExecutions: 16,
    // Let an in-flight commit finish on Ctrl-C instead of cancelling it at once (the default grace time is 0).
    shutdownGraceTime: '10s',
  });
  log(`worker listening on task queue ${worker.options.taskQueue} (namespace ${opts.namespace})`);
  const done = worker.run().finally(async () => {
    await connection.close().catch(() => undefined);
    await db.end().catch(() => undefined);
  });
  return {
    worker,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
