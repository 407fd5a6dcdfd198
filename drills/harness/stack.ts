/**
 * The drill stack: a Temporal dev server on a database file (so that it can be stopped and started again on the same
 * file and port) and a PostgreSQL cluster of its own, both under a fresh folder in the OS temp dir, on free ports,
 * with migrations applied. Faults act on the real processes by pid.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/stack/paths.ts';
import type { PostgresCluster } from '../../src/stack/postgres.ts';
import { startPostgres } from '../../src/stack/postgres.ts';
import type { TemporalDevServer } from '../../src/stack/temporal-server.ts';
import { startTemporalDevServer } from '../../src/stack/temporal-server.ts';
import { createDb } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import type { DrillStack, StackNeeds } from '../types.ts';

export interface RunningDrillStack extends DrillStack {
  needs: StackNeeds;
  /** SLUICE_HOME of the drill: logs, blobs, the Temporal db file, scenario work folders. */
  home: string;
  blobDir: string;
  logDir: string;
  /** The PostgreSQL cluster's folder (outside `home` when running as root; see startPostgres). */
  postgresDataDir: string;
  /** Stops everything and removes the folders (unless `keep`). */
  close(opts?: { keep?: boolean }): Promise<void>;
}

/** `count` distinct free ports (two quick calls to freePort may return the same one). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** A stable key for stack needs: scenarios with equal keys share a stack. */
export function needsKey(needs: StackNeeds = {}): string {
  return JSON.stringify({
    temporalDynamicConfig: [...(needs.temporalDynamicConfig ?? [])].sort(),
    postgresMaxConnections: needs.postgresMaxConnections ?? null,
  });
}

export async function startDrillStack(needs: StackNeeds, log: (msg: string) => void): Promise<RunningDrillStack> {
  const home = await mkdtemp(path.join(tmpdir(), 'sluice-drill-'));
  const logDir = path.join(home, 'logs');
  const blobDir = path.join(home, 'blobs');
  const dbFile = path.join(home, 'temporal', 'temporal.db');
  const [temporalPort, pgPort] = (await freePorts(2)) as [number, number];
  const quiet = (msg: string) => log(`stack: ${msg}`);

  const startTemporal = () =>
    startTemporalDevServer({
      dbFile,
      port: temporalPort,
      uiPort: null,
      log: quiet,
      logFile: path.join(logDir, 'temporal.log'),
      ...(needs.temporalDynamicConfig ? { dynamicConfig: needs.temporalDynamicConfig } : {}),
    });
  const pgOptions = {
    dataDir: path.join(home, 'postgres'),
    port: pgPort,
    log: quiet,
    logFile: path.join(logDir, 'postgres.log'),
    ...(needs.postgresMaxConnections ? { maxConnections: needs.postgresMaxConnections } : {}),
  };

  const [temporalStart, postgresStart] = await Promise.allSettled([startTemporal(), startPostgres(pgOptions)]);
  let temporal: TemporalDevServer | undefined = temporalStart.status === 'fulfilled' ? temporalStart.value : undefined;
  let postgres: PostgresCluster | undefined = postgresStart.status === 'fulfilled' ? postgresStart.value : undefined;
  // As root the cluster may live outside `home` (see startPostgres); remember where, to remove it.
  const pgDataDir = postgres?.dataDir;
  let postgresDown = false;

  const close = async (opts: { keep?: boolean } = {}) => {
    await temporal?.stop().catch(() => undefined);
    if (!postgresDown) await postgres?.stop().catch(() => undefined);
    if (opts.keep) return;
    if (pgDataDir) await rm(pgDataDir, { recursive: true, force: true });
    await rm(home, { recursive: true, force: true });
  };

  if (!temporal || !postgres) {
    await close();
    const reasons = [temporalStart, postgresStart].flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    throw new Error(`the drill stack did not start:\n${reasons.join('\n')}`);
  }

  const db = createDb(postgres.url, { max: 2, applicationName: 'sluice-drill-migrate' });
  try {
    await migrate(db, quiet);
  } catch (err) {
    await db.end();
    await close();
    throw err;
  }
  await db.end();

  const pidFile = path.join(postgres.dataDir, 'postmaster.pid');
  const postgresPid = (): number => {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${pidFile}`);
    return pid;
  };
  return {
    needs,
    home,
    blobDir,
    logDir,
    postgresDataDir: postgres.dataDir,
    temporalAddress: temporal.address,
    databaseUrl: postgres.url,
    temporalPid: () => temporal!.pid,
    async restartTemporal(opts = {}) {
      const down = temporal!;
      if (opts.hard) process.kill(down.pid, 'SIGKILL');
      // After SIGKILL stop() only waits for the exit; otherwise it sends SIGTERM (SIGKILL after 10 s).
      await down.stop();
      log(`stack: Temporal dev server (pid ${down.pid}) ${opts.hard ? 'killed' : 'stopped'}`);
      await sleep(opts.downForMs ?? 0);
      temporal = await startTemporal();
      log(`stack: Temporal dev server up again (pid ${temporal.pid}) on ${temporal.address}`);
    },
    postgresPid,
    async stopPostgres() {
      if (postgresDown) return;
      postgresDown = true;
      await postgres!.stop();
      log(`stack: PostgreSQL stopped`);
    },
    async startPostgres() {
      if (!postgresDown) return;
      postgres = await startPostgres(pgOptions);
      postgresDown = false;
      log(`stack: PostgreSQL up again (pid ${postgresPid()})`);
    },
    close,
  };
}
