import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_DECLARATIONS } from '../shared/search-attributes.ts';
import { freePort, isPortOpen, logTail, sluiceHome } from './paths.ts';
import { resolveTemporalCli } from './temporal-cli.ts';

export interface TemporalDevServer {
  /** gRPC frontend, `127.0.0.1:<port>`. */
  address: string;
  /** Web UI, or null when started headless. */
  uiUrl: string | null;
  pid: number;
  /** SIGTERM, then SIGKILL if the server has not exited after 10 s. Safe to call twice. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

// Same switches as @temporalio/testing's local server, so tests and `sluice dev` behave alike. The version check
// would call out to the internet on every start.
const DYNAMIC_CONFIG = [
  'frontend.enableUpdateWorkflowExecution=true',
  'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  'frontend.enableServerVersionCheck=false',
];

/** Ready means: the frontend answers, the namespace exists and every Sluice search attribute is registered. */
async function answers(port: number, namespace: string): Promise<boolean> {
  // A refused TCP connection is instant, whereas a gRPC connect attempt waits for its whole timeout.
  if (!(await isPortOpen(port))) return false;
  let connection: Connection | undefined;
  try {
    const address = `127.0.0.1:${port}`;
    connection = await Connection.connect({ address, connectTimeout: 1_000 });
    await connection.workflowService.getSystemInfo({});
    await connection.workflowService.describeNamespace({ namespace });
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return SEARCH_ATTRIBUTE_DECLARATIONS.every((decl) => decl.split('=')[0]! in (customAttributes ?? {}));
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/**
 * Starts `temporal server start-dev` bound to 127.0.0.1 with the Sluice search attributes registered, and resolves
 * once it serves requests. `dbFile` undefined keeps state in memory; `port` and `uiPort` undefined pick free ports;
 * `uiPort: null` runs headless. Server output goes to `logFile` (default `<SLUICE_HOME>/logs/temporal.log`).
 */
export async function startTemporalDevServer(opts: {
  dbFile?: string;
  port?: number;
  uiPort?: number | null;
  namespace?: string;
  log?: (msg: string) => void;
  logFile?: string;
  /** Extra `--dynamic-config-value KEY=JSON` settings, e.g. lower history limits for tests. */
  dynamicConfig?: string[];
}): Promise<TemporalDevServer> {
  const log = opts.log ?? (() => {});
  const cli = await resolveTemporalCli({ log });
  const namespace = opts.namespace ?? 'default';
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort === null ? null : (opts.uiPort ?? (await freePort()));
  const logFile = opts.logFile ?? path.join(sluiceHome(), 'logs', 'temporal.log');

  // Otherwise the readiness probe below could mistake another server on that port for ours.
  for (const p of uiPort === null ? [port] : [port, uiPort]) {
    if (await isPortOpen(p)) throw new Error(`cannot start the Temporal dev server: 127.0.0.1:${p} is in use`);
  }

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']));
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  // `default` always exists; the CLI would refuse to create it twice.
  if (namespace !== 'default') args.push('--namespace', namespace);
  // Re-declaring attributes that an existing db file already has is accepted by the CLI (same name and type).
  for (const decl of SEARCH_ATTRIBUTE_DECLARATIONS) args.push('--search-attribute', decl);
  for (const setting of [...DYNAMIC_CONFIG, ...(opts.dynamicConfig ?? [])])
    args.push('--dynamic-config-value', setting);

  mkdirSync(path.dirname(logFile), { recursive: true });
  const logFd = openSync(logFile, 'a');
  const logStart = fstatSync(logFd).size;
  const child = spawn(cli, args, { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);

  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      exited = err.message;
      resolve();
    });
  });

  const address = `127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exitPromise;
    clearTimeout(timer);
  };

  log(`starting Temporal dev server on ${address} (${opts.dbFile ?? 'in-memory'}; log ${logFile})`);
  const started = Date.now();
  while (exited !== undefined || !(await answers(port, namespace))) {
    if (exited !== undefined) {
      const tail = await logTail(logFile, logStart).catch(() => '');
      throw new Error(`Temporal dev server exited early (${exited}); last output from ${logFile}:\n${tail}`);
    }
    if (Date.now() - started > READY_TIMEOUT_MS) {
      await stop();
      const tail = await logTail(logFile, logStart).catch(() => '');
      throw new Error(`Temporal dev server on ${address} not ready after ${READY_TIMEOUT_MS / 1000} s:\n${tail}`);
    }
    await sleep(200);
  }

  const uiUrl = uiPort === null ? null : `http://127.0.0.1:${uiPort}`;
  log(`Temporal dev server ready on ${address} in ${Date.now() - started} ms${uiUrl ? `, UI ${uiUrl}` : ''}`);
  return { address, uiUrl, pid: child.pid!, stop };
}
