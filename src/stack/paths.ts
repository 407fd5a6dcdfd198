import { constants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Where sluice keeps local state (tools, Temporal db, Postgres cluster, logs): `SLUICE_HOME` or `<repo>/.sluice`. */
export function sluiceHome(): string {
  const fromEnv = process.env.SLUICE_HOME;
  if (fromEnv) return path.resolve(fromEnv);
  return path.join(fileURLToPath(new URL('../../', import.meta.url)), '.sluice');
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; another process may still take it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (answers within a second). */
export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host, timeout: 1_000 });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/** First executable called `name` in PATH (plus the sbin folders, which a non-login shell may lack), if any. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The last `lines` lines of a log file, reading no further back than `fromByte` (where this run's output began). */
export async function logTail(logFile: string, fromByte = 0, lines = 30): Promise<string> {
  const file = await open(logFile, 'r');
  try {
    const { size } = await file.stat();
    const start = Math.min(size, Math.max(fromByte, size - 16_384));
    const buffer = Buffer.alloc(size - start);
    await file.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    await file.close();
  }
}
