/**
 * Conflicting duplicates: a row with the key of a row the ledger holds already (same asset and grant) but other
 * content. By default it stays a duplicate whose disposition keeps the differing fields and the row as read
 * (`conflicting_duplicate`); with `conflicting_duplicates: hold` it waits for review, and approving it records it as
 * a duplicate while the ledger keeps the first version. Exact repeats stay plain duplicates either way.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BatchHandle } from '../../src/client/sluice-client.ts';
import { csvCell } from '../../src/profiles/generator-kit.ts';
import type { FieldIssue } from '../../src/profiles/types.ts';
import { checkInvariants, expectAuditConsistent, runCli, testConfig, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('conflicting-duplicates');

interface Row {
  asset_id: string;
  grant_code: string;
  category: string;
  quantity: string;
  location: string;
  acquisition_date: string;
}
const COLUMNS = ['asset_id', 'grant_code', 'category', 'quantity', 'location', 'acquisition_date'] as const;

const row = (asset: string, i: number): Row => ({
  asset_id: asset,
  grant_code: `NIH-R01-GM${100000 + i}`,
  category: 'Reagent',
  quantity: String(10 + i),
  location: `CHEM-${100 + i}`,
  acquisition_date: '2024-03-1' + (i % 10),
});
/** Same asset and grant (the same idempotency key), other quantity, location and category. */
const conflicting = (r: Row, delta: number): Row => ({
  ...r,
  quantity: String(Number(r.quantity) + delta),
  location: `BIO-${delta}B`,
  category: 'Centrifuge, refrigerated',
});

async function writeCsv(name: string, rows: Row[]): Promise<string> {
  const file = path.join(t.dir, name);
  const lines = [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))];
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

interface Disposition {
  record_no: number;
  status: string;
  held: boolean;
  reason_code: string | null;
  issues: FieldIssue[] | null;
  source: Record<string, string> | null;
  location: { file: string; line?: number } | null;
  error_signature: string | null;
}

async function dispositions(batchId: string): Promise<Map<number, Disposition>> {
  const { rows } = await t.db.query<Disposition>(
    `SELECT record_no::int, status, held, reason_code, issues, source, location, error_signature
       FROM record_disposition WHERE batch_id = $1 ORDER BY record_no`,
    [batchId],
  );
  return new Map(rows.map((r) => [r.record_no, r]));
}

async function ledgerOf(r: Row): Promise<{ batch_id: string; record_no: number; payload: Record<string, unknown> }[]> {
  const { rows } = await t.db.query(
    `SELECT batch_id, record_no::int, payload FROM ledger WHERE profile = 'inventory' AND business_key = $1`,
    [`${r.asset_id}/${r.grant_code.toUpperCase()}`],
  );
  return rows;
}

/** The chunk markers' stored counts, summed: what the workflow was told, to compare with the rows. */
async function chunkCountSums(batchId: string): Promise<Record<string, number>> {
  const { rows } = await t.db.query<{ counts: Record<string, unknown> }>(
    'SELECT counts FROM batch_chunk WHERE batch_id = $1',
    [batchId],
  );
  const sum: Record<string, number> = {};
  for (const { counts } of rows) {
    for (const k of ['records', 'committed', 'duplicates', 'quarantined', 'pendingReview'] as const) {
      sum[k] = (sum[k] ?? 0) + Number(counts[k]);
    }
    for (const [reason, n] of Object.entries((counts.heldByReason ?? {}) as Record<string, number>)) {
      sum[`held:${reason}`] = (sum[`held:${reason}`] ?? 0) + n;
    }
  }
  return sum;
}

/** Chunks of 4, one at a time: which of two rows of one file commits first is then the file order. */
const config = (extra: Record<string, unknown> = {}) =>
  testConfig({ max_chunk_size: 4, max_concurrent_chunks: 1, ...extra });

// Batch A (record mode): conflicts within a chunk and across chunks, an exact repeat across chunks.
const a = [1, 2, 3, 4, 5].map((i) => row(`CD-A${i}`, i));
const rowsA: Row[] = [
  a[0]!, // 1 committed
  a[1]!, // 2 committed
  conflicting(a[0]!, 7), // 3 conflicts with 1, same chunk
  a[2]!, // 4 committed
  a[3]!, // 5 committed (chunk 1)
  { ...a[1]! }, // 6 exact repeat of 2, across chunks
  conflicting(a[2]!, 9), // 7 conflicts with 4, across chunks
  a[4]!, // 8 committed
];
// Batch B (record mode): across batches, a conflict and an exact repeat of batch A's rows.
const rowsB: Row[] = [
  row('CD-B1', 11), // 1 committed
  conflicting(a[3]!, 5), // 2 conflicts with A 5
  { ...a[4]! }, // 3 exact repeat of A 8
];

let A = '';
let B = '';

describe('conflicting duplicates, recorded (the default)', () => {
  it('counts them as duplicates as before, and keeps their differences and fields on the disposition', async () => {
    const submitted = await t.sluice.submitBatch({
      file: await writeCsv('record-a.csv', rowsA),
      profile: 'inventory',
      config: config(),
    });
    A = submitted.batchId;
    const report = await submitted.settled();
    expect(report).toMatchObject({
      status: 'completed',
      records: 8,
      committed: 5,
      duplicates: 3,
      quarantined: 0,
      pendingReview: 0,
      chunks: 2,
    });
    await checkInvariants(t.db, A, 8);
    expect(await chunkCountSums(A)).toEqual({
      records: 8,
      committed: 5,
      duplicates: 3,
      quarantined: 0,
      pendingReview: 0,
    });

    const d = await dispositions(A);
    for (const n of [1, 2, 4, 5, 8]) expect(d.get(n)).toMatchObject({ status: 'committed', reason_code: null });
    // An exact repeat: a plain duplicate, nothing kept.
    expect(d.get(6)).toMatchObject({ status: 'duplicate', held: false, reason_code: null, issues: null, source: null });
    for (const [n, owner, original, delta] of [
      [3, 1, a[0]!, 7],
      [7, 4, a[2]!, 9],
    ] as const) {
      const conflict = d.get(n)!;
      expect(conflict).toMatchObject({
        status: 'duplicate',
        held: false,
        reason_code: 'conflicting_duplicate',
        source: { ...conflicting(original, delta) },
        location: { file: 'record-a.csv', line: n + 1 },
      });
      expect(conflict.issues!.map((i) => i.path).sort()).toEqual(['category', 'location', 'quantity']);
      expect(conflict.issues!.every((i) => i.code === 'conflicts_with_ledger')).toBe(true);
      expect(conflict.issues!.find((i) => i.path === 'quantity')!.message).toBe(
        `the ledger holds ${original.quantity} from batch ${A} record ${owner}; ` +
          `this record has ${Number(original.quantity) + delta}`,
      );
      expect(conflict.error_signature).toBe(
        'category:conflicts_with_ledger+location:conflicts_with_ledger+quantity:conflicts_with_ledger',
      );
      // The ledger keeps the first version.
      expect(await ledgerOf(original)).toMatchObject([
        {
          batch_id: A,
          record_no: owner,
          payload: { quantity: Number(original.quantity), location: original.location },
        },
      ]);
    }
    const events = await t.db.query(
      `SELECT record_no::int, detail FROM audit_event WHERE batch_id = $1 AND event = 'duplicate' ORDER BY record_no`,
      [A],
    );
    expect(events.rows).toEqual([
      {
        record_no: 3,
        detail: expect.objectContaining({ conflict: true, owner_batch_id: A, owner_record_no: 1 }),
      },
      { record_no: 6, detail: { business_key: `CD-A2/${a[1]!.grant_code}` } },
      {
        record_no: 7,
        detail: expect.objectContaining({ conflict: true, owner_batch_id: A, owner_record_no: 4 }),
      },
    ]);
    await expectAuditConsistent(A);
  });

  it('across batches: the conflict names the other batch; an exact repeat stays a plain duplicate', async () => {
    const submitted = await t.sluice.submitBatch({
      file: await writeCsv('record-b.csv', rowsB),
      profile: 'inventory',
      config: config(),
    });
    B = submitted.batchId;
    const report = await submitted.settled();
    expect(report).toMatchObject({ status: 'completed', records: 3, committed: 1, duplicates: 2, quarantined: 0 });
    await checkInvariants(t.db, B, 3);
    const d = await dispositions(B);
    expect(d.get(2)).toMatchObject({
      status: 'duplicate',
      held: false,
      reason_code: 'conflicting_duplicate',
      source: { ...rowsB[1]! },
    });
    expect(d.get(2)!.issues!.find((i) => i.path === 'location')!.message).toBe(
      `the ledger holds "${a[3]!.location}" from batch ${A} record 5; this record has "BIO-5B"`,
    );
    expect(d.get(3)).toMatchObject({ status: 'duplicate', reason_code: null, issues: null, source: null });
    await expectAuditConsistent(B);

    // The audit's journeys (and CSV) show the reason of a conflicting duplicate, not of an exact repeat.
    const res = await runCli(['audit', B, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const journeys = JSON.parse(res.stdout).records as { recordNo: number; heldReason: string | null }[];
    expect(journeys.map((j) => [j.recordNo, j.heldReason])).toEqual([
      [1, null],
      [2, 'conflicting_duplicate'],
      [3, null],
    ]);
  });
});

// Batch C (hold mode): a conflict within a chunk, one across chunks, one across batches (batch A's record 5), an
// exact repeat, and a row held for its own reason.
const c = [1, 2, 3].map((i) => row(`CD-C${i}`, 20 + i));
const rowsC: Row[] = [
  c[0]!, // 1 committed
  c[1]!, // 2 committed
  conflicting(c[0]!, 3), // 3 held: conflicts with 1, same chunk
  { ...c[1]! }, // 4 exact repeat of 2: a plain duplicate
  c[2]!, // 5 committed (chunk 1)
  conflicting(c[0]!, 4), // 6 held: conflicts with 1, across chunks
  conflicting(a[3]!, 6), // 7 held: conflicts with A 5, across batches
  { ...row('CD-C9', 29), quantity: '12 units' }, // 8 held: invalid_quantity
];

describe('conflicting duplicates, held for review (conflicting_duplicates: hold)', () => {
  let C = '';
  let handle: BatchHandle;

  it('holds them with their differences and keys, and counts them among the held records', async () => {
    const submitted = await t.sluice.submitBatch({
      file: await writeCsv('hold-c.csv', rowsC),
      profile: 'inventory',
      config: config({ conflicting_duplicates: 'hold' }),
    });
    C = submitted.batchId;
    handle = submitted;
    const report = await submitted.settled();
    expect(report).toMatchObject({
      status: 'awaiting_review',
      records: 8,
      committed: 3,
      duplicates: 1,
      quarantined: 4,
      pendingReview: 4,
    });
    expect(await chunkCountSums(C)).toEqual({
      records: 8,
      committed: 3,
      duplicates: 1,
      quarantined: 4,
      pendingReview: 4,
      'held:conflicting_duplicate': 3,
      'held:invalid_quantity': 1,
    });
    const d = await dispositions(C);
    expect(d.get(4)).toMatchObject({ status: 'duplicate', held: false, reason_code: null });
    for (const n of [3, 6, 7]) {
      expect(d.get(n)).toMatchObject({
        status: 'quarantined',
        held: true,
        reason_code: 'conflicting_duplicate',
        source: { ...rowsC[n - 1]! },
        location: { file: 'hold-c.csv', line: n + 1 },
      });
      expect(
        d
          .get(n)!
          .issues!.map((i) => i.path)
          .sort(),
      ).toEqual(['category', 'location', 'quantity']);
    }
    const keys = await t.db.query(
      `SELECT count(*)::int AS n FROM record_disposition
        WHERE batch_id = $1 AND reason_code = 'conflicting_duplicate' AND idempotency_key IS NOT NULL
          AND business_key IS NOT NULL`,
      [C],
    );
    expect(keys.rows[0].n).toBe(3);

    const show = await runCli(['review', 'show', C, '--reason-code', 'conflicting_duplicate', '--json']);
    expect(show.code, show.stderr).toBe(0);
    const view = JSON.parse(show.stdout);
    expect(view.pendingReview).toBe(4);
    expect(view.groups).toContainEqual(
      expect.objectContaining({ reasonCode: 'conflicting_duplicate', count: 3, approvable: true }),
    );
    expect(view.records.map((r: { recordNo: number }) => r.recordNo)).toEqual([3, 6, 7]);
    const across = view.records.find((r: { recordNo: number }) => r.recordNo === 7);
    expect(across.issues.map((i: FieldIssue) => i.message)).toContain(
      `the ledger holds ${a[3]!.quantity} from batch ${A} record 5; this record has ${Number(a[3]!.quantity) + 6}`,
    );
    const text = await runCli(['review', 'show', C]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`record 6 (hold-c.csv line 7) conflicting_duplicate`);
    expect(text.stdout).toContain(`location: the ledger holds "${c[0]!.location}" from batch ${C} record 1`);
  });

  it('approving them records duplicates (the ledger keeps the first version); the batch completes exactly', async () => {
    const approved = await t.sluice.decide(C, {
      decisionId: 'approve-conflicts',
      records: [3, 6],
      action: 'approve',
      reviewer: 'ann',
    });
    expect(approved).toMatchObject({ applied: true, selected: 2, approved: 0, duplicates: 2, stillHeld: 0 });
    // An amendment that changes the asset gives the record a key of its own: it commits.
    const amended = await t.sluice.decide(C, {
      decisionId: 'amend-conflict',
      records: [7],
      action: 'amend',
      patch: { asset_id: 'CD-C7-SPLIT' },
      reviewer: 'ann',
    });
    expect(amended).toMatchObject({ applied: true, selected: 1, approved: 1, duplicates: 0 });
    await t.sluice.decide(C, { decisionId: 'reject-rest', all: true, action: 'reject', reviewer: 'bob' });
    const final = await handle.result();
    expect(final).toMatchObject({
      status: 'completed',
      records: 8,
      committed: 4,
      duplicates: 3,
      quarantined: 4,
      approved: 1,
      rejected: 1,
      pendingReview: 0,
    });
    expect(final.records).toBe(final.committed + final.duplicates + final.rejected + final.pendingReview);
    await checkInvariants(t.db, C, 8);

    const d = await dispositions(C);
    for (const n of [3, 6]) {
      expect(d.get(n)).toMatchObject({ status: 'duplicate', held: true, reason_code: 'conflicting_duplicate' });
    }
    expect(d.get(7)).toMatchObject({ status: 'approved', held: true });
    expect(d.get(8)).toMatchObject({ status: 'rejected', reason_code: 'invalid_quantity' });
    expect(await ledgerOf(c[0]!)).toMatchObject([
      { batch_id: C, record_no: 1, payload: { quantity: Number(c[0]!.quantity), location: c[0]!.location } },
    ]);
    expect(await ledgerOf({ ...a[3]!, asset_id: 'CD-C7-SPLIT' })).toMatchObject([
      { batch_id: C, record_no: 7, payload: { location: 'BIO-6B' } },
    ]);
    await expectAuditConsistent(C);
    const res = await runCli(['audit', C, '--csv']);
    expect(res.code, res.stderr).toBe(0);
    const line6 = res.stdout.split('\n').find((l) => l.startsWith('6,'))!;
    expect(line6).toContain(',conflicting_duplicate,');
    expect(line6).toContain(',approve,ann,');
  });
});
