/**
 * The supply-feed profile end to end on the real stack (Temporal dev server + PostgreSQL), through the CLI as a user
 * runs it. For each format a generated run is submitted as two batches, in order: the purchase orders (all commit),
 * then the ship notices and invoices matched against them, whose report, held records by reason and audit must equal
 * the generator's oracle. The same orders sent again in another format are all duplicates. Finally a feed list is
 * submitted whose URLs point at a local HTTP server (one of them answers 503 once): planning fetches the feeds, and
 * the outcome is the sum of the feeds' oracles, with every record located by its URL.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { supplyFeedProfile } from '../../src/profiles/supply-feed/index.ts';
import {
  DEFAULT_DEFECTS,
  extensionFor,
  purchaseOrderCount,
  purchaseOrdersFile,
} from '../../src/profiles/supply-feed/generator.ts';
import type { SupplyFormat } from '../../src/profiles/supply-feed/generator.ts';
import type { ExpectedOutcome } from '../../src/profiles/types.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { checkInvariants, expectAuditConsistent, runCli, useSluiceTest, heldByReason } from '../helpers/sluice-env.ts';

const t = useSluiceTest('profile-supply-feed');

/** Every defect a little more often than by default, so a few hundred records hold each. */
const DEFECTS = Object.fromEntries(Object.entries(DEFAULT_DEFECTS).map(([d, rate]) => [d, rate * 2.5]));
const CHUNK = 100;

let config: string;
let feedConfig: string;

beforeAll(async () => {
  config = path.join(t.dir, 'small-chunks.yaml');
  await writeFile(config, `batch_config:\n  max_chunk_size: ${CHUNK}\n  max_concurrent_chunks: 4\n`);
  feedConfig = path.join(t.dir, 'feed-list.yaml');
  await writeFile(
    feedConfig,
    `batch_config:\n  max_chunk_size: ${CHUNK}\n  max_concurrent_chunks: 4\n  input:\n    format: feed-list\n`,
  );
});

async function submit(file: string, cfg = config): Promise<BatchReport> {
  const res = await runCli(['submit', file, '--profile', 'supply-feed', '--config', cfg, '--wait', '--json']);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as BatchReport;
}

/** The report, the held records by reason, the store's invariants and the audit, all against the oracle. */
async function expectOracle(report: BatchReport, expected: Omit<ExpectedOutcome, 'seed' | 'profile'>): Promise<void> {
  expect(report).toMatchObject({
    profile: 'supply-feed',
    status: expected.quarantined > 0 ? 'awaiting_review' : 'completed',
    records: expected.records,
    committed: expected.committed,
    duplicates: expected.duplicates,
    quarantined: expected.quarantined,
    pendingReview: expected.quarantined,
    approved: 0,
    rejected: 0,
  });
  expect(await heldByReason(t.db, report.batchId)).toEqual(expected.byReason);
  await checkInvariants(t.db, report.batchId, expected.records);
  await expectAuditConsistent(report.batchId);
}

const orders = (records: number): Omit<ExpectedOutcome, 'seed' | 'profile'> => ({
  records: purchaseOrderCount(records),
  committed: purchaseOrderCount(records),
  duplicates: 0,
  quarantined: 0,
  byReason: {},
});

async function generate(
  format: SupplyFormat,
  records: number,
  seed: number,
): Promise<{ out: string; expected: ExpectedOutcome }> {
  const out = path.join(t.dir, `supply-${seed}${extensionFor(format)}`);
  const expected = await supplyFeedProfile.generator!.generate(out, { records, seed, defects: DEFECTS, format });
  return { out, expected };
}

describe.each([
  ['x12', 300, 3001],
  ['csv', 300, 3002],
  ['xlsx', 300, 3003],
  ['xml', 300, 3004],
] as const)('a generated %s run of %i documents', (format, records, seed) => {
  it('commits every order, then matches notices and invoices to exactly the oracle', async () => {
    const { out, expected } = await generate(format, records, seed);
    const ordersReport = await submit(purchaseOrdersFile(out));
    await expectOracle(ordersReport, orders(records));
    expect(ordersReport.chunks).toBe(Math.ceil(purchaseOrderCount(records) / CHUNK));

    const report = await submit(out);
    await expectOracle(report, expected);
    expect(report.chunks).toBe(Math.ceil(records / CHUNK));
    for (const reason of ['unknown_po', 'unmatched_line', 'quantity_variance', 'price_variance', 'parse_error']) {
      expect(expected.byReason[reason], reason).toBeGreaterThan(0);
    }
    // A held record says where it is in the file.
    const held = await t.db.query<{ location: { file: string; line?: number; position?: string } }>(
      `SELECT location FROM record_disposition WHERE batch_id = $1 AND reason_code = 'parse_error' ORDER BY record_no LIMIT 1`,
      [report.batchId],
    );
    expect(held.rows[0]!.location.file).toBe(path.basename(out));
    expect(held.rows[0]!.location.position ?? held.rows[0]!.location.line).toBeTruthy();
  });
});

describe('the same orders in another format', () => {
  it('are all duplicates: the idempotency key does not depend on the format', async () => {
    // Seed 3001's orders were committed from X12 above; here they come as a CSV export.
    const { out } = await generate('csv', 300, 3001);
    const report = await submit(purchaseOrdersFile(out));
    await expectOracle(report, { ...orders(300), committed: 0, duplicates: purchaseOrderCount(300) });
  });
});

describe('a feed list of HTTP feeds', () => {
  let server: Server;
  let base: string;
  const files = new Map<string, string>();
  const hits = new Map<string, number>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const name = (req.url ?? '/').slice(1);
      const count = (hits.get(name) ?? 0) + 1;
      hits.set(name, count);
      const file = files.get(name);
      if (file === undefined) return void res.writeHead(404).end();
      // The first feed fails once: planning retries it within the activity.
      if (count === 1 && name === [...files.keys()][0]) return void res.writeHead(503).end('busy');
      void readFile(file).then((bytes) => res.end(bytes));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fetches the feeds while planning, retries a 503, and reaches the sum of the feeds oracles', async () => {
    const a = await generate('xml', 200, 3101);
    const b = await generate('x12', 200, 3102);
    for (const { out } of [a, b]) {
      files.set(path.basename(out), out);
      files.set(path.basename(purchaseOrdersFile(out)), purchaseOrdersFile(out));
    }
    const list = async (name: string, feeds: string[]): Promise<string> => {
      const file = path.join(t.dir, name);
      await writeFile(file, `# supplier feeds\n${feeds.map((f) => `${base}/${path.basename(f)}`).join('\n')}\n`);
      return file;
    };

    const orderList = await list('orders.txt', [purchaseOrdersFile(b.out), purchaseOrdersFile(a.out)]);
    const ordersReport = await submit(orderList, feedConfig);
    await expectOracle(ordersReport, {
      records: 2 * purchaseOrderCount(200),
      committed: 2 * purchaseOrderCount(200),
      duplicates: 0,
      quarantined: 0,
      byReason: {},
    });
    expect(hits.get(path.basename(purchaseOrdersFile(b.out)))).toBe(1);

    const report = await submit(await list('documents.txt', [a.out, b.out]), feedConfig);
    const sum = (k: 'records' | 'committed' | 'duplicates' | 'quarantined'): number => a.expected[k] + b.expected[k];
    const byReason: Record<string, number> = { ...a.expected.byReason };
    for (const [reason, n] of Object.entries(b.expected.byReason)) byReason[reason] = (byReason[reason] ?? 0) + n;
    await expectOracle(report, {
      records: sum('records'),
      committed: sum('committed'),
      duplicates: sum('duplicates'),
      quarantined: sum('quarantined'),
      byReason,
    });
    // The 503 was retried: the first listed feed was asked for twice.
    expect(hits.get(path.basename(purchaseOrdersFile(a.out)))).toBe(1);
    expect(hits.get(path.basename(a.out))).toBe(2);

    // Each held record is located in its feed: the URL is its file.
    const { rows } = await t.db.query<{ file: string; n: number }>(
      `SELECT location->>'file' AS file, count(*)::int AS n FROM record_disposition
        WHERE batch_id = $1 AND held GROUP BY 1 ORDER BY 1`,
      [report.batchId],
    );
    expect(rows).toEqual(
      [
        { file: `${base}/${path.basename(a.out)}`, n: a.expected.quarantined },
        { file: `${base}/${path.basename(b.out)}`, n: b.expected.quarantined },
      ].sort((x, y) => x.file.localeCompare(y.file)),
    );
  });
});
