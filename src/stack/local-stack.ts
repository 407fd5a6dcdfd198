import path from 'node:path';
import { Connection } from '@temporalio/client';
import { isPortOpen, sluiceHome } from './paths.ts';
import { startPostgres } from './postgres.ts';
import { startTemporalDevServer } from './temporal-server.ts';

export interface LocalStack {
  temporalAddress: string;
  databaseUrl: string;
  /** Web UI of a dev server this stack started or found on 8233; null for a remote Temporal. */
  uiUrl: string | null;
  /** Whether this call started a Temporal server or a PostgreSQL cluster (rather than finding or being given both). */
  startedAny: boolean;
  /** Stops only what this call started; servers it found running or was pointed at keep running. */
  stop(): Promise<void>;
}

const DEV_PORT = 7233;
const DEV_UI_PORT = 8233;

/** True when a Temporal frontend answers at `address` (`host:port`) within a few seconds. */
export async function isTemporalUp(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 3_000 });
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

async function resolveTemporal(log: (msg: string) => void) {
  const fromEnv = process.env.TEMPORAL_ADDRESS;
  if (fromEnv) return { address: fromEnv, uiUrl: null, started: false, stop: async () => {} };

  const address = `127.0.0.1:${DEV_PORT}`;
  // The TCP check spares the gRPC connect timeout when nothing listens, the common case.
  if ((await isPortOpen(DEV_PORT)) && (await isTemporalUp(address))) {
    log(`using the Temporal server already running on ${address}`);
    const uiUrl = (await isPortOpen(DEV_UI_PORT)) ? `http://127.0.0.1:${DEV_UI_PORT}` : null;
    return { address, uiUrl, started: false, stop: async () => {} };
  }
  const server = await startTemporalDevServer({
    dbFile: path.join(sluiceHome(), 'temporal', 'temporal.db'),
    port: DEV_PORT,
    uiPort: DEV_UI_PORT,
    log,
  });
  return { address: server.address, uiUrl: server.uiUrl, started: true, stop: server.stop };
}

async function resolveDatabase(log: (msg: string) => void) {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) return { url: fromEnv, started: false, stop: async () => {} };
  return startPostgres({ log });
}

/**
 * The Temporal server and PostgreSQL database sluice talks to: `TEMPORAL_ADDRESS` and `DATABASE_URL` when set,
 * otherwise a local Temporal dev server (state in `<SLUICE_HOME>/temporal/temporal.db`, gRPC 7233, UI 8233; one
 * already answering on 7233 is reused) and a local PostgreSQL cluster (`<SLUICE_HOME>/postgres`, port 55432).
 */
export async function startLocalStack(opts: { log?: (msg: string) => void } = {}): Promise<LocalStack> {
  const log = opts.log ?? (() => {});
  const [temporal, database] = await Promise.allSettled([resolveTemporal(log), resolveDatabase(log)]);
  if (temporal.status === 'rejected' || database.status === 'rejected') {
    // Do not leave half a stack running behind an error, and report both failures at once (say, on a fresh machine).
    await Promise.allSettled([temporal, database].map((r) => (r.status === 'fulfilled' ? r.value.stop() : null)));
    const reasons = [temporal, database].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (reasons.length === 1) throw reasons[0];
    throw new Error(reasons.map((r) => (r instanceof Error ? r.message : String(r))).join('\n\n'));
  }
  return {
    temporalAddress: temporal.value.address,
    databaseUrl: database.value.url,
    uiUrl: temporal.value.uiUrl,
    startedAny: temporal.value.started || database.value.started,
    async stop() {
      await Promise.all([temporal.value.stop(), database.value.stop()]);
    },
  };
}
