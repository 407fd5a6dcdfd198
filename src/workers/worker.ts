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

export const DEFAULT_QUEUES: readonly string[] = [TASK_QUEUE.ingest, TASK_QUEUE.compute, TASK_QUEUE.commit];

export interface WorkerOptions {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  blobDir: string;
  /** Task queues to poll (default: ingest, compute and commit). */
  queues?: readonly string[];
  /** Activity tasks at once (commits run here; the local stages run alongside workflow tasks). */
  maxConcurrentActivities?: number;
  /** Commits per second across every worker of the commit task queue (the server enforces it); default unlimited. */
  commitsPerSecond?: number;
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
  const activities = createActivities({ db, blobs: createLocalBlobStore(opts.blobDir), getProfile });
  const common = {
    connection,
    namespace: opts.namespace,
    activities,
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 16,
    // Let an in-flight commit finish on Ctrl-C instead of cancelling it at once (the default grace time is 0).
    shutdownGraceTime: '10s',
  } as const;
  // The compute and commit queues carry activities only; a batch routes stages there with `task_queues` in its
  // configuration. Every other queue hosts the workflows too.
  const activityOnly = new Set<string>([TASK_QUEUE.compute, TASK_QUEUE.commit]);
  const workers: Worker[] = [];
  for (const taskQueue of opts.queues ?? DEFAULT_QUEUES) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue,
        ...(activityOnly.has(taskQueue)
          ? {}
          : { workflowsPath: WORKFLOWS_PATH, maxConcurrentLocalActivityExecutions: 16 }),
        ...(taskQueue === TASK_QUEUE.commit && opts.commitsPerSecond
          ? { maxTaskQueueActivitiesPerSecond: opts.commitsPerSecond }
          : {}),
      }),
    );
  }
  for (const w of workers) log(`worker listening on task queue ${w.options.taskQueue} (namespace ${opts.namespace})`);
  if (opts.commitsPerSecond) log(`commits on ${TASK_QUEUE.commit} limited to ${opts.commitsPerSecond} per second`);
  const done = Promise.all(workers.map((w) => w.run()))
    .then(() => undefined)
    .finally(async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await connection.close().catch(() => undefined);
      await db.end().catch(() => undefined);
    });
  return {
    worker: workers[0]!,
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
