import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { chown, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findExecutable, logTail, sluiceHome } from './paths.ts';

const run = promisify(execFile);

export interface PostgresCluster {
  /** `postgres://sluice@127.0.0.1:<port>/<database>` (trust auth, loopback only). */
  url: string;
  port: number;
  /** Where the cluster really lives: differs from the requested one when it had to move (see startPostgres). */
  dataDir: string;
  /** False when a server already running on the data dir was reused. */
  started: boolean;
  /** `pg_ctl stop -m fast` if this call started the server; a reused one is left running. */
  stop(): Promise<void>;
}

const SUPERUSER = 'sluice';
const OS_USER = 'postgres';

const INSTALL_HINT =
  'Install the PostgreSQL server (Debian/Ubuntu: apt-get install -y postgresql), ' +
  'or set PG_BIN to the folder that holds initdb, pg_ctl and postgres.';

/** Folder of the server binaries: `PG_BIN`, else `pg_config --bindir`, else the newest `/usr/lib/postgresql/N/bin`. */
async function findPgBin(): Promise<string> {
  const hasInitdb = (dir: string) => existsSync(path.join(dir, 'initdb'));
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (hasInitdb(fromEnv)) return fromEnv;
    throw new Error(`PG_BIN=${fromEnv} has no initdb. ${INSTALL_HINT}`);
  }
  try {
    // Debian's pg_config comes with the client library and may point at a folder without a server.
    const { stdout } = await run('pg_config', ['--bindir']);
    if (hasInitdb(stdout.trim())) return stdout.trim();
  } catch {
    // no pg_config
  }
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const newest = versions
    .filter((v) => /^\d+$/.test(v) && hasInitdb(`/usr/lib/postgresql/${v}/bin`))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return `/usr/lib/postgresql/${newest}/bin`;
  throw new Error(`PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. ${INSTALL_HINT}`);
}

/** Turns a command into one that runs as the unprivileged OS user: initdb and postgres refuse to run as root. */
type AsServerUser = (file: string, args: string[]) => [string, string[]];

async function serverUser(log: (msg: string) => void): Promise<AsServerUser> {
  if (process.getuid?.() !== 0) return (file, args) => [file, args];
  try {
    await run('id', ['-u', OS_USER]);
  } catch {
    const groupExists = await run('getent', ['group', OS_USER]).then(
      () => true,
      () => false,
    );
    log(`creating system user ${OS_USER} to run PostgreSQL (it refuses to run as root)`);
    await run('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      ...(groupExists ? ['--gid', OS_USER] : ['--user-group']),
      OS_USER,
    ]);
  }
  const runuser = await findExecutable('runuser');
  if (runuser) return (file, args) => [runuser, ['-u', OS_USER, '--', file, ...args]];
  const setpriv = await findExecutable('setpriv');
  if (setpriv) {
    return (file, args) => [setpriv, [`--reuid=${OS_USER}`, `--regid=${OS_USER}`, '--init-groups', file, ...args]];
  }
  throw new Error(`Running as root, and neither runuser nor setpriv (util-linux) is available to run PostgreSQL.`);
}

/**
 * Runs a command with its output appended to the log file. pg_ctl's server inherits that descriptor, so the log
 * can live where the server user could not open it itself. cwd is `/`: initdb and pg_ctl fail when they cannot
 * read their working directory, which the server user may not be allowed to.
 */
async function runLogged(cmd: [string, string[]], logFile: string): Promise<number> {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd[0], cmd[1], { stdio: ['ignore', fd, fd], cwd: '/' });
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code ?? 1));
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * As root the cluster belongs to the server user, who must be able to walk down to it. When a parent folder shuts
 * that user out (CI clones into a `mktemp -d` folder with mode 700), the cluster moves to
 * `/var/tmp/sluice-pg-<hash of the requested path>`, which stays the same for the same request, so it is reused.
 */
async function prepareDataDir(requested: string, asServerUser: AsServerUser, log: (msg: string) => void) {
  mkdirSync(path.dirname(requested), { recursive: true });
  if (process.getuid?.() !== 0) return requested;

  let dataDir = requested;
  const [test, testArgs] = asServerUser('test', ['-x', path.dirname(requested)]);
  const reachable = await run(test, testArgs, { cwd: '/' }).then(
    () => true,
    () => false,
  );
  if (!reachable) {
    const hash = createHash('sha256').update(requested).digest('hex').slice(0, 12);
    dataDir = `/var/tmp/sluice-pg-${hash}`;
    log(`user ${OS_USER} cannot reach ${path.dirname(requested)}; the PostgreSQL cluster lives in ${dataDir} instead`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if ((await readdir(dataDir)).length === 0) {
    const uid = Number((await run('id', ['-u', OS_USER])).stdout);
    const gid = Number((await run('id', ['-g', OS_USER])).stdout);
    await chown(dataDir, uid, gid);
  }
  return dataDir;
}

/** Port of the server running on `dataDir`, from postmaster.pid (line 4), if one runs. */
async function runningPort(
  pgBin: string,
  dataDir: string,
  asServerUser: AsServerUser,
  logFile: string,
): Promise<number | undefined> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // pg_ctl status tells a live server from a stale pid file left by a crash (exit code 3 = not running).
  if ((await runLogged(asServerUser(path.join(pgBin, 'pg_ctl'), ['status', '-D', dataDir]), logFile)) !== 0) {
    return undefined;
  }
  const port = Number((await readFile(pidFile, 'utf8')).split('\n')[3]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

async function ensureDatabase(pgBin: string, port: number, database: string): Promise<void> {
  const conn = ['-h', '127.0.0.1', '-p', String(port), '-U', SUPERUSER];
  const env = { ...process.env, PGCONNECT_TIMEOUT: '10' };
  const { stdout } = await run(
    path.join(pgBin, 'psql'),
    [...conn, '-d', 'postgres', '-XAtq', '-c', `SELECT 1 FROM pg_database WHERE datname = '${database}'`],
    { env },
  );
  if (stdout.trim() !== '1') await run(path.join(pgBin, 'createdb'), [...conn, database], { env });
}

/**
 * Starts (or reuses) a loopback-only development cluster with trust authentication and superuser `sluice`, and
 * creates `database` in it. The data dir is initialised on first use and reused afterwards; a server already
 * running on it is reused (and not stopped by `stop()`). Server output goes to `logFile`
 * (default `<SLUICE_HOME>/logs/postgres.log`). Settings are PostgreSQL's defaults (fsync and synchronous_commit
 * on) except `max_connections` (`maxConnections`, default 200) and the loopback-only listen address with Unix
 * sockets disabled. `maxConnections` applies when this call starts the server, not to a server it reuses.
 */
export async function startPostgres(
  opts: {
    dataDir?: string;
    port?: number;
    database?: string;
    log?: (msg: string) => void;
    logFile?: string;
    maxConnections?: number;
  } = {},
): Promise<PostgresCluster> {
  const log = opts.log ?? (() => {});
  const database = opts.database ?? 'sluice';
  // The name goes into SQL text below; keep it to plain identifiers rather than quote it.
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`invalid database name: ${database}`);
  const requestedPort = opts.port ?? 55432;
  const logFile = opts.logFile ?? path.join(sluiceHome(), 'logs', 'postgres.log');
  mkdirSync(path.dirname(logFile), { recursive: true });
  const logStart = existsSync(logFile) ? (await stat(logFile)).size : 0;
  const failure = async (what: string) =>
    new Error(`${what}; last output from ${logFile}:\n${await logTail(logFile, logStart).catch(() => '')}`);

  const pgBin = await findPgBin();
  const asServerUser = await serverUser(log);
  const dataDir = await prepareDataDir(
    path.resolve(opts.dataDir ?? path.join(sluiceHome(), 'postgres')),
    asServerUser,
    log,
  );
  const pgCtl = path.join(pgBin, 'pg_ctl');

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL cluster in ${dataDir}`);
    const initdb = asServerUser(path.join(pgBin, 'initdb'), [
      '-D',
      dataDir,
      '--auth=trust',
      `--username=${SUPERUSER}`,
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    if ((await runLogged(initdb, logFile)) !== 0) throw await failure(`initdb failed for ${dataDir}`);
  }

  let port = await runningPort(pgBin, dataDir, asServerUser, logFile);
  const startedHere = port === undefined;
  const started = Date.now();
  if (port === undefined) {
    port = requestedPort;
    log(`starting PostgreSQL on 127.0.0.1:${port} (data ${dataDir}; log ${logFile})`);
    // pg_ctl hands -o to a shell: keep every value free of spaces and quotes. No Unix socket: its path could
    // exceed the 107-byte limit under deep data dirs, and clients connect over TCP anyway.
    const maxConnections = opts.maxConnections ?? 200;
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new Error(`maxConnections must be a positive integer, got ${maxConnections}`);
    }
    const serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=${maxConnections}`;
    const start = asServerUser(pgCtl, ['start', '-w', '-t', '60', '-D', dataDir, '-o', serverOptions]);
    if ((await runLogged(start, logFile)) !== 0) throw await failure(`PostgreSQL did not start on port ${port}`);
    log(`PostgreSQL ready on 127.0.0.1:${port} in ${Date.now() - started} ms`);
  } else {
    log(`reusing the PostgreSQL server already running on ${dataDir} (port ${port})`);
  }

  let stopped = !startedHere;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const pgCtlStop = asServerUser(pgCtl, ['stop', '-w', '-D', dataDir, '-m', 'fast']);
    if ((await runLogged(pgCtlStop, logFile)) !== 0) throw await failure(`pg_ctl stop failed for ${dataDir}`);
  };

  try {
    await ensureDatabase(pgBin, port, database);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`, port, dataDir, started: startedHere, stop };
}
