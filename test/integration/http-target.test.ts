/**
 * The HTTP commit target on the real stack: each chunk is POSTed with an Idempotency-Key before sluice records it;
 * 5xx answers are retried with the same key, 409 counts as already committed, any other 4xx holds the chunk's
 * records for review as `commit_rejected`. The API receives every committed record exactly once.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { checkInvariants, runCli, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('http-target');

interface Received {
  key: string;
  status: number;
  records: { idempotencyKey: string; recordNo: number }[];
}

/** A downstream API: answers by the mode of the moment, remembers every request and the keys it accepted. */
class FakeApi {
  server!: Server;
  received: Received[] = [];
  accepted = new Set<string>();
  mode: 'flaky' | 'reject' = 'flaky';
  private failedOnce = new Set<string>();

  async start(): Promise<string> {
    this.server = createServer(
      (req, res) => void this.handle(req).then(([status, body]) => res.writeHead(status).end(body)),
    );
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/ledger/chunks`;
  }

  private async handle(req: IncomingMessage): Promise<[number, string]> {
    let text = '';
    for await (const part of req) text += part;
    const key = String(req.headers['idempotency-key'] ?? '');
    const body = JSON.parse(text) as { records: Received['records'] };
    const answer = (status: number, msg: string): [number, string] => {
      this.received.push({ key, status, records: body.records });
      return [status, msg];
    };
    if (!/^[0-9a-f]{64}$/.test(key)) return answer(400, 'missing Idempotency-Key');
    if (this.mode === 'reject') return answer(422, 'unknown cost centre');
    if (this.accepted.has(key)) return answer(409, 'already have it');
    // Every chunk fails once with a 503 before it is accepted: sluice must retry with the same key.
    if (!this.failedOnce.has(key)) {
      this.failedOnce.add(key);
      return answer(503, 'busy');
    }
    this.accepted.add(key);
    return answer(201, 'ok');
  }
}

const api = new FakeApi();
let url: string;
beforeAll(async () => {
  url = await api.start();
});
afterAll(() => new Promise<void>((resolve) => api.server.close(() => resolve())));

async function submit(file: string, name: string): Promise<BatchReport> {
  const config = path.join(t.dir, `${name}.yaml`);
  await writeFile(
    config,
    [
      'batch_config:',
      '  max_chunk_size: 100',
      '  max_concurrent_chunks: 4',
      '  retry_policy: { initial_interval_seconds: 0.2, max_interval_seconds: 1 }',
      '  commit_target:',
      '    type: http',
      `    url: ${url}`,
      '    timeout_seconds: 5',
      '',
    ].join('\n'),
  );
  const res = await runCli(['submit', file, '--profile', 'inventory', '--config', config, '--wait', '--json']);
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as BatchReport;
}

describe('HTTP commit target', () => {
  it('retries 5xx with the same key and delivers every committed record exactly once', async () => {
    const file = path.join(t.dir, 'flaky.csv');
    const expected = await generateInventoryManifest(file, {
      records: 800,
      seed: 71,
      defects: { invalid_grant_code: 0.02, nonstandard_location: 0.02, duplicate: 0.05 },
    });
    api.mode = 'flaky';
    const report = await submit(file, 'flaky');
    expect(report).toMatchObject({
      records: expected.records,
      committed: expected.committed,
      duplicates: expected.duplicates,
      quarantined: expected.quarantined,
    });
    await checkInvariants(t.db, report.batchId, expected.records);

    const mine = api.received.filter((r) => r.records.length > 0);
    const accepted = mine.filter((r) => r.status === 201);
    // Each accepted chunk was first refused with a 503 under the very same key.
    for (const r of accepted) expect(mine.find((m) => m.key === r.key && m.status === 503)).toBeDefined();
    const delivered = accepted.flatMap((r) => r.records.map((x) => x.idempotencyKey));
    expect(new Set(delivered).size).toBe(delivered.length);
    const ledger = await t.db.query<{ idempotency_key: string }>(
      'SELECT idempotency_key FROM ledger WHERE batch_id = $1',
      [report.batchId],
    );
    expect(new Set(delivered)).toEqual(new Set(ledger.rows.map((r) => r.idempotency_key)));
    expect(delivered.length).toBe(expected.committed);
  });

  it('resubmitting the same file sends nothing new', async () => {
    const before = api.received.length;
    const file = path.join(t.dir, 'flaky.csv');
    const report = await submit(file, 'flaky-again');
    expect(report.committed).toBeGreaterThan(0);
    expect(api.received.length).toBe(before);
  });

  it('holds the records of a chunk the API refuses (4xx) as commit_rejected', async () => {
    const file = path.join(t.dir, 'refused.csv');
    const expected = await generateInventoryManifest(file, {
      records: 300,
      seed: 72,
      defects: { invalid_quantity: 0.05 },
    });
    api.mode = 'reject';
    const report = await submit(file, 'refused');
    expect(report).toMatchObject({
      records: expected.records,
      committed: 0,
      duplicates: 0,
      quarantined: expected.records,
      pendingReview: expected.records,
    });
    await checkInvariants(t.db, report.batchId, expected.records);
    const byReason = await t.db.query<{ reason_code: string; n: number; message: string }>(
      `SELECT reason_code, count(*)::int AS n, min(issues->0->>'message') AS message FROM record_disposition
        WHERE batch_id = $1 GROUP BY 1 ORDER BY 1`,
      [report.batchId],
    );
    expect(Object.fromEntries(byReason.rows.map((r) => [r.reason_code, r.n]))).toEqual({
      ...expected.byReason,
      commit_rejected: expected.committed,
    });
    const rejected = byReason.rows.find((r) => r.reason_code === 'commit_rejected')!;
    expect(rejected.message).toContain('HTTP 422: unknown cost centre');

    // Once the API accepts them, approving the refused records delivers them (after one 503 and a retry) and
    // commits them; a second approval of the same records delivers nothing more.
    api.mode = 'flaky';
    const before = api.received.length;
    const decision = {
      reasonCode: 'commit_rejected',
      action: 'approve' as const,
      reviewer: 'ops@example.com',
    };
    let outcome = await t.sluice
      .decide(report.batchId, { ...decision, decisionId: 'approve-refused-1' })
      .catch((e) => e);
    // The first attempt meets the 503; the review activity retries it with the same key.
    for (let i = 0; outcome instanceof Error && i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      outcome = await t.sluice
        .decide(report.batchId, { ...decision, decisionId: `approve-refused-${i + 2}` })
        .catch((e) => e);
    }
    expect(outcome).not.toBeInstanceOf(Error);
    const delivered = api.received.slice(before).filter((r) => r.status === 201);
    expect(delivered.flatMap((r) => r.records)).toHaveLength(expected.committed);
    const counts = await t.db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM record_disposition WHERE batch_id = $1 GROUP BY 1',
      [report.batchId],
    );
    expect(Object.fromEntries(counts.rows.map((r) => [r.status, r.n]))).toEqual({
      approved: expected.committed,
      quarantined: expected.quarantined,
    });
    await checkInvariants(t.db, report.batchId, expected.records);
  });
});
