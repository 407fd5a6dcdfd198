/**
 * Throughput of sluice on Temporal against a plain single-process pipeline running the same parse, validate,
 * classify and commit code, measured in the same run on the same machine:
 *
 *   npm run bench                      # 1,000,000 records, chunk sizes 750 (seed 000 default) and 5000
 *   npm run bench -- --records 200000 --chunk-sizes 750,2000
 *
 * Starts its own Temporal dev server (SQLite file, as `sluice dev` does) and PostgreSQL; the worker runs in its own
 * process so that its peak memory (VmHWM) can be read. Each run commits into a fresh database.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { splitForCommit } from '../src/activities/split-for-commit.ts';
import { SluiceClient } from '../src/client/sluice-client.ts';
import { resolveBatchConfig } from '../src/config/batch-config.ts';
import { getProfile } from '../src/profiles/index.ts';
import { generateInventoryManifest } from '../src/profiles/inventory/generator.ts';
import type { ChunkPlan, InputLayout } from '../src/profiles/types.ts';
import { freePort } from '../src/stack/paths.ts';
import { startPostgres } from '../src/stack/postgres.ts';
import { startTemporalDevServer } from '../src/stack/temporal-server.ts';
import { finishPlan, registerBatch, savePlanPage } from '../src/store/batches.ts';
import { createLocalBlobStore, sha256OfFile } from '../src/store/blobs.ts';
import { commitChunk } from '../src/store/commit.ts';
import { createDb } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    'chunk-sizes': { type: 'string', default: '750,5000' },
    concurrency: { type: 'string', default: '8' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const RECORDS = Number(args.records);
const CHUNK_SIZES = args['chunk-sizes']!.split(',').map(Number);
const CONCURRENCY = Number(args.concurrency);
const REPO = fileURLToPath(new URL('../', import.meta.url));
const say = (msg: string) => process.stderr.write(`${msg}\n`);

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The same stage code as the activities in one process without Temporal: the baseline. With `inFlight` 1 it runs one
 * chunk after another (the plain pipeline); with more, it overlaps chunks as sluice's window does, which isolates
 * what orchestration itself costs.
 */
async function plainPipeline(databaseUrl: string, file: string, chunkSize: number, inFlight: number): Promise<number> {
  const db = createDb(databaseUrl, { max: inFlight + 1 });
  await migrate(db);
  const profile = getProfile('inventory');
  const config = resolveBatchConfig({ batch_config: { max_chunk_size: chunkSize } }, profile);
  const started = performance.now();
  const sha256 = await sha256OfFile(file);
  const batchId = `plain-${chunkSize}-${inFlight}`;
  await registerBatch(db, {
    batchId,
    workflowId: '-',
    profile: profile.id,
    sha256,
    size: 0,
    fileName: 'bench.csv',
    config,
  });
  let layout: InputLayout = {};
  const chunks: ChunkPlan[] = [];
  for await (const item of profile.plan(file, 'bench.csv', { maxRecords: chunkSize, maxBytes: 45 << 20 })) {
    if ('layout' in item) layout = item.layout;
    else chunks.push(item);
  }
  for (let i = 0; i < chunks.length; i += 500) await savePlanPage(db, batchId, chunks.slice(i, i + 500));
  await finishPlan(db, batchId, layout, chunks.length, RECORDS);
  const runChunk = async (chunk: ChunkPlan): Promise<void> => {
    const records = await profile.readChunk(file, 'bench.csv', layout, chunk);
    const validated = records.map((r) => profile.validate(r.fields));
    const classified = validated.map((v) => (v.ok ? profile.classify(v.record) : null));
    const { commit, held } = splitForCommit(profile, records, validated, classified);
    await commitChunk(db, { batchId, profile: profile.id, chunkNo: chunk.chunkNo, commit, held });
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < chunks.length) await runChunk(chunks[next++]!);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await db.end();
  return seconds;
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** CPU seconds the whole machine has been busy (all cores). */
async function machineBusySeconds(): Promise<number> {
  const [cpu] = (await readFile('/proc/stat', 'utf8')).split('\n');
  const t = cpu!.trim().split(/\s+/).slice(1).map(Number);
  const idle = t[3]! + t[4]!;
  return (t.reduce((a, b) => a + b, 0) - idle) / 100;
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

async function temporalPipeline(
  temporalPid: number,
  temporalAddress: string,
  databaseUrl: string,
  home: string,
  file: string,
  chunkSize: number,
): Promise<{
  seconds: number;
  chunks: number;
  peakMb: number;
  status: string;
  committed: number;
  cpu: { worker: number; server: number; rest: number };
}> {
  const blobDir = path.join(home, 'blobs');
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    DATABASE_URL: databaseUrl,
    SLUICE_BLOB_DIR: blobDir,
    SLUICE_HOME: home,
  };
  // --cpu-prof writes the worker's V8 CPU profile to bench/out/profiles (open it in Chrome DevTools).
  const profiling = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.join(REPO, 'bench/out/profiles')}`] : [];
  const worker = spawn(process.execPath, [...profiling, path.join(REPO, 'bin/sluice.js'), 'worker'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let workerLog = '';
  worker.stderr.on('data', (d) => (workerLog += d));
  const ready = Date.now() + 60_000;
  while (!workerLog.includes('worker listening')) {
    if (Date.now() > ready || worker.exitCode !== null) throw new Error(`worker did not start:\n${workerLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const sluice = await SluiceClient.connect({ temporalAddress, namespace: 'default', blobDir });
  try {
    const config = resolveBatchConfig(
      { batch_config: { max_chunk_size: chunkSize, max_concurrent_chunks: CONCURRENCY } },
      getProfile('inventory'),
    );
    const cpu0 = {
      worker: await cpuSeconds(worker.pid!),
      server: await cpuSeconds(temporalPid),
      all: await machineBusySeconds(),
    };
    const started = performance.now();
    const submitted = await sluice.submitBatch({
      file,
      profile: 'inventory',
      batchId: `temporal-${chunkSize}`,
      config,
    });
    const report = await sluice.settled(submitted.batchId);
    const seconds = (performance.now() - started) / 1000;
    const workerCpu = (await cpuSeconds(worker.pid!)) - cpu0.worker;
    const serverCpu = (await cpuSeconds(temporalPid)) - cpu0.server;
    const allCpu = (await machineBusySeconds()) - cpu0.all;
    const peakMb = await peakRssMb(worker.pid!);
    return {
      seconds,
      chunks: report.chunks,
      peakMb,
      status: report.status,
      committed: report.committed,
      cpu: { worker: workerCpu, server: serverCpu, rest: allCpu - workerCpu - serverCpu },
    };
  } finally {
    await sluice.close();
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
  }
}

const home = await mkdtemp(path.join(tmpdir(), 'sluice-bench-'));
const [temporalPort, pgPort] = [await freePort(), await freePort()];
say(
  `bench: ${RECORDS} records, chunk sizes ${CHUNK_SIZES.join(', ')}, ${CONCURRENCY} chunks in flight; work dir ${home}`,
);
const temporal = await startTemporalDevServer({
  port: temporalPort,
  uiPort: null,
  dbFile: path.join(home, 'temporal.db'),
  log: say,
});
const postgres = await startPostgres({
  dataDir: path.join(home, 'postgres'),
  port: pgPort === temporalPort ? pgPort + 1 : pgPort,
  log: say,
});
try {
  const file = path.join(home, 'bench.csv');
  const expected = await generateInventoryManifest(file, {
    records: RECORDS,
    seed: 2026,
    defects: { invalid_grant_code: 0.005, nonstandard_location: 0.005, duplicate: 0.01 },
  });
  await createLocalBlobStore(path.join(home, 'blobs')).put(file);
  const rows: string[] = [];
  for (const chunkSize of CHUNK_SIZES) {
    const plain = await plainPipeline(await createDatabase(postgres.url, `plain_${chunkSize}`), file, chunkSize, 1);
    const overlapped = await plainPipeline(
      await createDatabase(postgres.url, `overlap_${chunkSize}`),
      file,
      chunkSize,
      CONCURRENCY,
    );
    const t = await temporalPipeline(
      temporal.pid,
      temporal.address,
      await createDatabase(postgres.url, `temporal_${chunkSize}`),
      home,
      file,
      chunkSize,
    );
    if (t.committed !== expected.committed)
      throw new Error(`temporal run committed ${t.committed}, expected ${expected.committed}`);
    const rate = (seconds: number) => Math.round(RECORDS / seconds);
    const ms = (cpuSeconds: number) => ((cpuSeconds * 1000) / t.chunks).toFixed(1);
    rows.push(
      `| ${chunkSize} | ${t.chunks} | ${rate(plain)} | ${rate(overlapped)} | ${rate(t.seconds)} | ` +
        `**${(plain / t.seconds).toFixed(2)}** | ${(overlapped / t.seconds).toFixed(2)} | ` +
        `${(((t.seconds - overlapped) * 1000) / t.chunks).toFixed(1)} | ${ms(t.cpu.server)} / ${ms(t.cpu.worker)} / ${ms(t.cpu.rest)} | ${Math.round(t.peakMb)} |`,
    );
    say(
      `chunk size ${chunkSize}: plain ${plain.toFixed(1)} s, plain x${CONCURRENCY} ${overlapped.toFixed(1)} s, sluice ${t.seconds.toFixed(1)} s (${t.status})`,
    );
  }
  console.log(`\n${RECORDS} records, ${CONCURRENCY} chunks in flight, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(
    '| chunk size | chunks | plain rec/s | plain x' +
      CONCURRENCY +
      ' rec/s | sluice rec/s | ratio to plain | ratio to plain x' +
      CONCURRENCY +
      ' | orchestration ms/chunk | CPU ms/chunk: Temporal server / worker / PostgreSQL+rest | worker peak RSS MB |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
} finally {
  await temporal.stop();
  await postgres.stop();
  await rm(postgres.dataDir, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
}
