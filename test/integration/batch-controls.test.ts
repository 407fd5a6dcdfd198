/**
 * The batch workflow's controls on the real stack: the circuit breaker opens when commits to a downstream API keep
 * failing, drains, waits its cooldown and probes with one chunk before it dispatches again; a tolerated failure
 * threshold stops a batch with the reason and every dispatched record accounted for.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import { checkInvariants, expectAuditConsistent, runCli, testConfig, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('batch-controls');
const EventType = temporal.api.enums.v1.EventType;

/** A downstream API that answers 503 until `upAt`, then accepts each Idempotency-Key once (409 after). */
let server: Server;
let url: string;
let upAt = 0;
const accepted = new Map<string, number>();
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['idempotency-key'] ?? '');
      if (Date.now() < upAt) return void res.writeHead(503).end('down for maintenance');
      if (accepted.has(key)) return void res.writeHead(409).end('already have it');
      accepted.set(key, Date.now());
      res.writeHead(201).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ledger/chunks`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('opens the circuit breaker while commits fail, drains, waits the cooldown, probes with one chunk, then resumes', async () => {
  const file = path.join(t.dir, 'breaker.csv');
  const expected = await generateInventoryManifest(file, { records: 800, seed: 7101 });
  const config = testConfig({
    max_chunk_size: 50,
    max_concurrent_chunks: 4,
    retry_policy: { initial_interval_seconds: 0.2, max_interval_seconds: 1 },
    commit_target: { type: 'http', url, timeout_seconds: 5 },
    circuit_breaker: { min_attempts: 6, cooldown_seconds: 3, window_seconds: 60 },
  });
  upAt = Date.now() + 4000;
  const batch = await t.sluice.submitBatch({ file, profile: 'inventory', config });
  const statuses = new Set<string>();
  const report = await batch.settled((p) => statuses.add(p.status));
  expect(report).toMatchObject({
    status: 'completed',
    records: 800,
    committed: expected.committed,
    duplicates: expected.duplicates,
  });
  await checkInvariants(t.db, batch.batchId, 800);
  expect(accepted.size).toBe(16); // one Idempotency-Key per chunk, each accepted once

  // The history shows the breaker at work: a 3 s cooldown timer; no chunk started between the breaker opening and
  // the timer firing; then exactly one probe chunk ran to completion before the next chunk started.
  const history = await t.sluice.temporal.workflow.getHandle(batchWorkflowId(batch.batchId)).fetchHistory();
  const events = history.events ?? [];
  const timerAt = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED);
  const firedAt = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_TIMER_FIRED);
  expect(timerAt, 'the breaker opened and started its cooldown timer').toBeGreaterThan(0);
  expect(Number(events[timerAt]!.timerStartedEventAttributes!.startToFireTimeout!.seconds)).toBe(3);
  const started = (from: number, to: number) =>
    events.slice(from, to).filter((e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
      .length;
  expect(started(timerAt, firedAt), 'no chunk dispatched while the breaker was open').toBe(0);
  const probeDone = events.findIndex(
    (e, i) => i > firedAt && e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
  );
  expect(started(firedAt, probeDone), 'one probe chunk').toBe(1);
  expect(started(probeDone, events.length)).toBeGreaterThan(0);
  expect(statuses.has('circuit_open'), `statuses seen: ${[...statuses].join(', ')}`).toBe(true);
});

it('stops a batch whose held records of one reason exceed the tolerated share, and accounts for every record', async () => {
  const file = path.join(t.dir, 'tolerated.csv');
  const records = 3000;
  await generateInventoryManifest(file, { records, seed: 7102, defects: { invalid_quantity: 0.2 } });
  const config = testConfig({
    max_chunk_size: 100,
    max_concurrent_chunks: 2,
    tolerated_failures: { invalid_quantity: 5, '*': 50 },
  });
  const batch = await t.sluice.submitBatch({ file, profile: 'inventory', config });
  const report = await batch.settled();
  expect(report.status).toBe('stopped');
  expect(report.stopReason).toMatch(
    /^\d+ records held as invalid_quantity of 3000 \([\d.]+ %\) exceed the tolerated 5 %$/,
  );
  // Stopped early: chunks never dispatched are reported, not lost.
  expect(report.notProcessed).toBeGreaterThan(0);
  expect(report.committed + report.duplicates + report.rejected + report.pendingReview + report.notProcessed!).toBe(
    records,
  );
  // Every dispatched chunk's records have exactly one disposition, and they are the first records of the file.
  await checkInvariants(t.db, batch.batchId, records - report.notProcessed!);
  await expectAuditConsistent(batch.batchId);

  const status = await runCli(['status', batch.batchId]);
  expect(status.code).toBe(1);
  expect(status.stdout).toMatch(/stopped +\d+ records held as invalid_quantity .* record\(s\) not processed/);
});
