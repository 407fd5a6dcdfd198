/** `sluice dev`, `sluice worker`, `sluice migrate`: running the services. */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import type { Command } from '@commander-js/extra-typings';
import { loadEnv } from '../../config/env.ts';
import { startLocalStack } from '../../stack/local-stack.ts';
import { createDb } from '../../store/db.ts';
import { migrate } from '../../store/migrate.ts';
import { TASK_QUEUE } from '../../shared/task-queues.ts';
import { DEFAULT_QUEUES, installWorkerRuntime, startWorker } from '../../workers/worker.ts';
import { log } from '../output.ts';

/** Resolves on the first SIGINT or SIGTERM. */
export const untilInterrupted = (): Promise<string> =>
  new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });

export function registerStackCommands(program: Command): void {
  program
    .command('dev')
    .description(
      'Run the local stack in the foreground: Temporal dev server (Web UI on :8233), PostgreSQL, migrations and a worker. Ctrl-C stops it all.',
    )
    .action(async () => {
      installWorkerRuntime();
      const stack = await startLocalStack({ log });
      let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
      try {
        const env = { ...loadEnv(), temporalAddress: stack.temporalAddress, databaseUrl: stack.databaseUrl };
        worker = await startWorker({ ...env, log });
        log(
          `sluice is up: Temporal ${stack.temporalAddress}, UI ${stack.uiUrl ?? '(none)'}, PostgreSQL ${stack.databaseUrl}`,
        );
        log('press Ctrl-C to stop');
        const why = await Promise.race([untilInterrupted(), worker.done.then(() => 'worker stopped')]);
        log(`${why}: stopping`);
      } finally {
        await worker?.shutdown().catch((err: Error) => log(`worker shutdown: ${err.message}`));
        await stack.stop();
        log('stopped');
      }
    });

  program
    .command('worker')
    .description(
      'Run a worker against TEMPORAL_ADDRESS and DATABASE_URL (default: the local stack). Applies migrations first.',
    )
    .option('--queues <names>', 'task queues to poll, comma-separated', DEFAULT_QUEUES.join(','))
    .option('--max-activities <n>', 'activity tasks at once', '16')
    .option(
      '--commits-per-second <n>',
      `limit commits on ${TASK_QUEUE.commit} to this many per second across all workers (default: unlimited)`,
    )
    .action(async (opts) => {
      installWorkerRuntime();
      const env = loadEnv();
      const queues = opts.queues
        .split(',')
        .map((q) => q.trim())
        .filter(Boolean);
      const worker = await startWorker({
        ...env,
        queues,
        maxConcurrentActivities: positiveNumber(opts.maxActivities, '--max-activities'),
        ...(opts.commitsPerSecond
          ? { commitsPerSecond: positiveNumber(opts.commitsPerSecond, '--commits-per-second') }
          : {}),
        log,
      });
      const why = await Promise.race([untilInterrupted(), worker.done.then(() => 'worker stopped')]);
      log(`${why}: draining in-flight work`);
      await worker.shutdown();
    });

  program
    .command('migrate')
    .description('Apply database migrations to DATABASE_URL (default: the local stack).')
    .action(async () => {
      const db = createDb(loadEnv().databaseUrl, { max: 2, applicationName: 'sluice-migrate' });
      try {
        const applied = await migrate(db, log);
        log(applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
      } finally {
        await db.end();
      }
    });
}

function positiveNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n))
    throw new InvalidArgumentError(`${flag} must be a positive number, got "${text}"`);
  return n;
}
