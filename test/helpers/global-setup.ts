// Starts one Temporal dev server and one PostgreSQL cluster for the whole integration run (starting them per file
// would cost seconds each). Missing tools fail the run with the install instructions: integration tests are never
// skipped for want of a server.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort } from '../../src/stack/paths.ts';
import { startPostgres } from '../../src/stack/postgres.ts';
import { resolveTemporalCli } from '../../src/stack/temporal-cli.ts';
import { startTemporalDevServer } from '../../src/stack/temporal-server.ts';

const log = (msg: string) => console.log(`[global-setup] ${msg}`);
export const TEST_SUGGEST_CONTINUE_AS_NEW_EVENTS = 300;

/** `count` distinct free ports (two quick calls to freePort may return the same one). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export default async function setup(project: TestProject) {
  const home = await mkdtemp(path.join(tmpdir(), 'sluice-test-'));
  const [temporalPort, uiPort, pgPort] = (await freePorts(3)) as [number, number, number];
  const started = Date.now();
  const [temporal, postgres] = await Promise.allSettled([
    // The pinned CLI is installed on first use into .sluice/tools (as `sluice dev` does), so `npm test` works from a
    // fresh clone; PostgreSQL's server binaries must come from the system and fail the run with how to install them.
    resolveTemporalCli({ install: true, log }).then(() =>
      startTemporalDevServer({
        port: temporalPort,
        uiPort,
        log,
        logFile: path.join(home, 'logs', 'temporal.log'),
        // Suggest continue-as-new after a few hundred events instead of 4096, so that any batch of more than a few
        // dozen chunks exercises it.
        dynamicConfig: [`limit.historyCount.suggestContinueAsNew=${TEST_SUGGEST_CONTINUE_AS_NEW_EVENTS}`],
      }),
    ),
    startPostgres({
      dataDir: path.join(home, 'postgres'),
      port: pgPort,
      log,
      logFile: path.join(home, 'logs', 'postgres.log'),
    }),
  ]);
  const teardown = async () => {
    if (temporal.status === 'fulfilled') await temporal.value.stop();
    if (postgres.status === 'fulfilled') {
      await postgres.value.stop();
      // As root the cluster may live outside `home` (see startPostgres).
      await rm(postgres.value.dataDir, { recursive: true, force: true });
    }
    await rm(home, { recursive: true, force: true });
  };
  if (temporal.status === 'rejected' || postgres.status === 'rejected') {
    await teardown();
    const reasons = [temporal, postgres].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    throw new Error(
      `Integration test setup failed:\n\n${reasons.map((r) => (r instanceof Error ? r.message : String(r))).join('\n\n')}`,
    );
  }
  log(`stack up in ${Date.now() - started} ms (logs in ${path.join(home, 'logs')})`);

  project.provide('temporalAddress', temporal.value.address);
  project.provide('temporalUiUrl', temporal.value.uiUrl);
  project.provide('databaseUrl', postgres.value.url);
  project.provide('sluiceHome', home);

  return teardown;
}
