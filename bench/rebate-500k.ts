/**
 * A 500,000-line vendor rebate claim file end to end (seed 002: "a 500,000-line claim file must work"): generates
 * the file with planted defects and its oracle, imports the promotion master, submits the file with the rebate
 * profile's defaults (classification on the compute queue, commits on the commit queue), waits until nothing is in
 * flight, checks every count against the oracle, and prints lines per second and the worker's peak memory.
 *
 *   node --import tsx bench/rebate-500k.ts                         # 500,000 CSV lines on a stack of its own
 *   node --import tsx bench/rebate-500k.ts --lines 100000 --format xlsx
 *   node --import tsx bench/rebate-500k.ts --commits-per-second 20  # the commit queue's rate limit
 *   node --import tsx bench/rebate-500k.ts --external               # against a running `sluice dev` (or the env's stack)
 *
 * Like bench/ingest-throughput.ts it starts its own Temporal dev server and PostgreSQL in a temporary folder, and
 * the worker in its own process so that its peak RSS (VmHWM) can be read. With `--external` it uses the stack and
 * worker already running (TEMPORAL_ADDRESS / DATABASE_URL, else `sluice dev`'s), with a fresh seed so that its lines
 * are new to that ledger; the worker's memory is then not measured. Exits 1 if any count differs from the oracle.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { SluiceClient } from '../src/client/sluice-client.ts';
import { resolveBatchConfig } from '../src/config/batch-config.ts';
import { loadEnv } from '../src/config/env.ts';
import { getProfile } from '../src/profiles/index.ts';
import { generateRebateClaims, writePromotionMaster } from '../src/profiles/rebate/generator.ts';
import type { RebateFormat } from '../src/profiles/rebate/generator.ts';
import { readPromotionMaster } from '../src/profiles/rebate/reference.ts';
import { freePort } from '../src/stack/paths.ts';
import { startPostgres } from '../src/stack/postgres.ts';
import { startTemporalDevServer } from '../src/stack/temporal-server.ts';
import { sha256OfFile } from '../src/store/blobs.ts';
import { createDb } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { importReference } from '../src/store/reference.ts';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: '500000' },
    format: { type: 'string', default: 'csv' },
    'chunk-size': { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'commits-per-second': { type: 'string' },
    seed: { type: 'string' },
    external: { type: 'boolean', default: false },
  },
});
const LINES = Number(args.lines);
const FORMAT = args.format as RebateFormat;
if (!Number.isSafeInteger(LINES) || LINES < 1) throw new Error('--lines must be a positive whole number');
if (FORMAT !== 'csv' && FORMAT !== 'xlsx') throw new Error('--format must be csv or xlsx');
const REPO = fileURLToPath(new URL('../', import.meta.url));
const say = (msg: string) => process.stderr.write(`${msg}\n`);
const seconds = (since: number) => (performance.now() - since) / 1000;

/** Lines of a typical claim file: mostly clean, every defect present. */
const DEFECTS = {
  unknown_promotion: 0.002,
  outside_promotion_window: 0.002,
  ineligible_sku: 0.002,
  over_claim: 0.002,
  invalid_quantity: 0.001,
  invalid_amount: 0.001,
  duplicate: 0.005,
};

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function cpuSeconds(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startWorkerProcess(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const extra = args['commits-per-second'] ? ['--commits-per-second', args['commits-per-second']] : [];
  const worker = spawn(process.execPath, [path.join(REPO, 'bin/sluice.js'), 'worker', ...extra], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  worker.stderr!.on('data', (d) => (log += d));
  const deadline = Date.now() + 60_000;
  while (!log.includes('worker listening')) {
    if (Date.now() > deadline || worker.exitCode !== null) throw new Error(`worker did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return worker;
}

const home = await mkdtemp(path.join(tmpdir(), 'sluice-rebate-bench-'));
const cleanups: Array<() => Promise<unknown>> = [() => rm(home, { recursive: true, force: true })];
let failed = false;
try {
  let temporalAddress: string;
  let databaseUrl: string;
  let blobDir: string;
  let worker: ChildProcess | undefined;
  if (args.external) {
    ({ temporalAddress, databaseUrl, blobDir } = loadEnv());
    say(`bench: ${LINES} ${FORMAT} lines against the running stack at ${temporalAddress}; work dir ${home}`);
  } else {
    const [temporalPort, pgPort] = [await freePort(), await freePort()];
    say(`bench: ${LINES} ${FORMAT} lines on a stack of its own; work dir ${home}`);
    const temporal = await startTemporalDevServer({
      port: temporalPort,
      uiPort: null,
      dbFile: path.join(home, 'temporal.db'),
      log: say,
    });
    cleanups.unshift(() => temporal.stop());
    const postgres = await startPostgres({
      dataDir: path.join(home, 'postgres'),
      port: pgPort === temporalPort ? pgPort + 1 : pgPort,
      log: say,
    });
    cleanups.unshift(() => rm(postgres.dataDir, { recursive: true, force: true }));
    cleanups.unshift(() => postgres.stop());
    temporalAddress = temporal.address;
    databaseUrl = postgres.url;
    blobDir = path.join(home, 'blobs');
    await mkdir(blobDir, { recursive: true });
  }

  // A fresh seed against a ledger that may hold earlier runs' lines (their line_refs carry the seed).
  const seed = Number(args.seed ?? (args.external ? Date.now() % 1_000_000_000 : 2026));
  const file = path.join(home, `claims-${LINES}.${FORMAT}`);
  let t = performance.now();
  const expected = await generateRebateClaims(file, { records: LINES, seed, defects: DEFECTS, format: FORMAT });
  const bytes = (await stat(file)).size;
  say(
    `generated ${file} (${(bytes / 1048576).toFixed(1)} MiB) in ${seconds(t).toFixed(1)} s: ${JSON.stringify(expected)}`,
  );

  const db = createDb(databaseUrl, { max: 2, applicationName: 'sluice-rebate-bench' });
  cleanups.unshift(() => db.end());
  await migrate(db);
  const { promotions } = await writePromotionMaster(file);
  const imported = await importReference(
    db,
    'promotions',
    { fileName: path.basename(promotions), sha256: await sha256OfFile(promotions) },
    readPromotionMaster(promotions, path.basename(promotions)),
  );
  say(`imported ${imported.entries} promotions`);

  if (!args.external) {
    worker = await startWorkerProcess({
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      DATABASE_URL: databaseUrl,
      SLUICE_BLOB_DIR: blobDir,
      SLUICE_HOME: home,
    });
    const w = worker;
    cleanups.unshift(async () => {
      w.kill('SIGTERM');
      if (w.exitCode === null) await new Promise((r) => w.once('exit', r));
    });
  }

  const profile = getProfile('rebate');
  const config = resolveBatchConfig(
    {
      batch_config: {
        max_concurrent_chunks: Number(args.concurrency),
        ...(args['chunk-size'] ? { max_chunk_size: Number(args['chunk-size']) } : {}),
      },
    },
    profile,
  );
  const sluice = await SluiceClient.connect({ temporalAddress, namespace: 'default', blobDir });
  cleanups.unshift(() => sluice.close());
  const cpu0 = worker ? await cpuSeconds(worker.pid!) : 0;
  t = performance.now();
  const batch = await sluice.submitBatch({
    file,
    profile: 'rebate',
    batchId: `rebate-bench-${FORMAT}-${LINES}-${seed}`,
    config,
  });
  let lastSaid = 0;
  const report = await batch.settled((p) => {
    if (Date.now() - lastSaid < 5000) return;
    lastSaid = Date.now();
    say(`  ${p.status}: ${p.counts.records}/${p.plannedRecords} lines, chunks ${p.chunksDone}/${p.chunks}`);
  });
  const elapsed = seconds(t);
  const workerCpu = worker ? (await cpuSeconds(worker.pid!)) - cpu0 : undefined;
  const peak = worker ? await peakRssMb(worker.pid!) : undefined;

  const { rows } = await db.query<{ reason_code: string; n: number }>(
    'SELECT reason_code, count(*)::int AS n FROM record_disposition WHERE batch_id = $1 AND held GROUP BY 1',
    [report.batchId],
  );
  const byReason = Object.fromEntries(rows.map((r) => [r.reason_code, r.n]));
  const checks: Array<[string, unknown, unknown]> = [
    ['records', report.records, expected.records],
    ['committed', report.committed, expected.committed],
    ['duplicates', report.duplicates, expected.duplicates],
    ['quarantined', report.quarantined, expected.quarantined],
    ['byReason', JSON.stringify(sortKeys(byReason)), JSON.stringify(sortKeys(expected.byReason))],
  ];
  for (const [name, actual, wanted] of checks) {
    if (actual !== wanted) {
      failed = true;
      say(`MISMATCH ${name}: got ${String(actual)}, the oracle says ${String(wanted)}`);
    }
  }

  console.log(
    `\nrebate claim file, ${new Date().toISOString().slice(0, 10)}, ${LINES} ${FORMAT} lines (seed ${seed})\n`,
  );
  console.log(
    '| lines | format | MiB | chunks | chunk size | commits/s limit | seconds | lines/s | worker CPU s | worker peak RSS MB | oracle |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  console.log(
    `| ${LINES} | ${FORMAT} | ${(bytes / 1048576).toFixed(1)} | ${report.chunks} | ${config.max_chunk_size} | ` +
      `${args['commits-per-second'] ?? 'none'} | ${elapsed.toFixed(1)} | ${Math.round(LINES / elapsed)} | ` +
      `${workerCpu === undefined ? 'n/a' : workerCpu.toFixed(1)} | ${peak === undefined ? 'n/a' : Math.round(peak)} | ` +
      `${failed ? 'MISMATCH' : 'equal'} |`,
  );
  console.log(
    `\nstatus ${report.status}: committed ${report.committed}, duplicates ${report.duplicates}, ` +
      `quarantined ${report.quarantined} ${JSON.stringify(byReason)}`,
  );
} finally {
  for (const cleanup of cleanups) await cleanup().catch((err: unknown) => say(`cleanup: ${String(err)}`));
}
process.exitCode = failed ? 1 : 0;

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
