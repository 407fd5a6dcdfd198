/**
 * Review decisions under abuse: sixteen kinds of malformed decision sent as signals (each refused, recorded in the
 * audit log and listed by the `progress` query) and as updates (each refused before it is accepted); the same decision
 * sent twice by signal and twice by update, and its id reused for a different decision (applied once, the reuse
 * ignored); decisions that select nothing or name a committed record (nothing changes); an amendment that adds an
 * unknown field (the record stays held). The batch keeps working throughout, and once the rest is decided it
 * completes with the oracle's counts adjusted by the decisions.
 */
import { WorkflowUpdateStage } from '@temporalio/client';
import type { RecordCounts, ReviewOutcome } from '../../src/shared/contracts.ts';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import type { Scenario } from '../types.ts';
import type { Check } from './support.ts';
import { check, statusCounts } from './support.ts';
import { waitFor } from '../harness/wait.ts';

const reviewer = 'drill-reviewer';

/** Malformed decisions: what is wrong, the payload, and the refusal the checker must give. */
const MALFORMED: Array<{ kind: string; payload: unknown; error: RegExp }> = [
  { kind: 'not an object (a number)', payload: 42, error: /must be a JSON object/ },
  { kind: 'null', payload: null, error: /must be a JSON object/ },
  {
    kind: 'an array',
    payload: [{ decisionId: 'in-array', all: true, action: 'reject', reviewer }],
    error: /JSON object/,
  },
  { kind: 'a string that is not JSON', payload: '{"decisionId": oops', error: /not JSON/ },
  { kind: 'missing decisionId', payload: { all: true, action: 'reject', reviewer }, error: /decisionId/ },
  {
    kind: 'unknown action',
    payload: { decisionId: 'bad-action', all: true, action: 'delete', reviewer },
    error: /action/,
  },
  {
    kind: 'records not numbers',
    payload: { decisionId: 'bad-records', records: ['1', '2'], action: 'reject', reviewer },
    error: /positive integer/,
  },
  {
    kind: 'records out of range (zero, negative, unsafe)',
    payload: { decisionId: 'bad-range', records: [0, -3, 2 ** 60], action: 'reject', reviewer },
    error: /positive integer/,
  },
  {
    kind: 'amend without patch',
    payload: { decisionId: 'bad-amend', reasonCode: 'nonstandard_location', action: 'amend', reviewer },
    error: /patch/,
  },
  {
    kind: 'patch value that is an object',
    payload: {
      decisionId: 'bad-patch',
      reasonCode: 'nonstandard_location',
      action: 'amend',
      patch: { location: { building: 'CHEM', room: 101 } },
      reviewer,
    },
    error: /patch\.location/,
  },
  {
    kind: 'patch with approve',
    payload: { decisionId: 'bad-approve', all: true, action: 'approve', patch: { location: 'CHEM-1' }, reviewer },
    error: /patch is only allowed/,
  },
  {
    kind: 'empty reviewer',
    payload: { decisionId: 'bad-reviewer', all: true, action: 'reject', reviewer: '   ' },
    error: /reviewer/,
  },
  {
    kind: 'both records and all',
    payload: { decisionId: 'bad-both', records: [1], all: true, action: 'reject', reviewer },
    error: /exactly one of/,
  },
  { kind: 'no selector', payload: { decisionId: 'bad-none', action: 'reject', reviewer }, error: /exactly one of/ },
  {
    kind: 'unknown field',
    payload: { decisionId: 'bad-field', all: true, action: 'reject', reviewer, force: true },
    error: /unknown field "force"/,
  },
  {
    kind: 'huge payload (100 KB note)',
    payload: { decisionId: 'bad-huge', all: true, action: 'reject', reviewer, note: 'x'.repeat(100_000) },
    error: /note must be/,
  },
];

export const reviewDecisions: Scenario = {
  name: 'review-decisions',
  summary:
    '16 kinds of malformed decision refused and recorded, a decision sent 4 times applied once, a reused id ignored; ' +
    'the batch keeps working and completes with the oracle adjusted by the decisions',
  fast: false,
  async run(ctx) {
    await ctx.spawnWorker();
    const { file, expected } = await ctx.generate('review', {
      records: 1_200,
      seed: 61,
      defects: {
        quantity_outlier: 0.02,
        nonstandard_location: 0.02,
        invalid_quantity: 0.01,
        invalid_grant_code: 0.01,
        duplicate: 0.01,
      },
    });
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config: ctx.config() });
    const settled = await batch.settled();
    const handle = ctx.client.temporal.workflow.getHandle(batchWorkflowId(batch.batchId));
    const checks: Check[] = [];
    const by = expected.byReason;
    const n = (reason: string): number => by[reason] ?? 0;
    checks.push(
      check(
        'the batch awaits review with the oracle holds',
        settled.status === 'awaiting_review' && settled.pendingReview === expected.quarantined,
        `${settled.status}, ${settled.pendingReview} pending (oracle ${expected.quarantined}: ${JSON.stringify(by)})`,
      ),
    );
    const auditCount = async (event: string): Promise<number> =>
      (
        await ctx.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM audit_event WHERE batch_id = $1 AND event = $2',
          [batch.batchId, event],
        )
      ).rows[0]!.n;
    const progress = () => ctx.client.progress(batch.batchId);
    const pending = async () => (await progress()).counts.pendingReview;

    // 1. Malformed decisions as signals: each refused, recorded in the audit log and listed by `progress`.
    for (const m of MALFORMED) await handle.signal<[unknown]>('review', m.payload);
    const p1 = await waitFor(
      'every malformed signal to be refused',
      async () => {
        const p = await progress();
        return p.rejectedDecisions.length >= MALFORMED.length ? p : undefined;
      },
      { timeoutMs: 120_000 },
    );
    const refusedSignals = await waitFor(
      'the refusals in the audit log',
      async () => {
        const c = await auditCount('decision_rejected');
        return c >= MALFORMED.length ? c : undefined;
      },
      { timeoutMs: 120_000 },
    ).catch(() => -1);
    const mismatched = MALFORMED.flatMap((m, i) => {
      const r = p1.rejectedDecisions[p1.rejectedDecisions.length - MALFORMED.length + i];
      return r && m.error.test(r.error) ? [] : [`${m.kind}: ${r ? r.error : 'not listed'}`];
    });
    checks.push(
      check(
        'malformed signals: each refused with its reason and listed by progress',
        p1.rejectedDecisions.length === MALFORMED.length && mismatched.length === 0,
        mismatched.length === 0
          ? `${p1.rejectedDecisions.length} refusals listed`
          : `${p1.rejectedDecisions.length} listed; wrong or missing: ${mismatched.join('; ')}`,
      ),
      check(
        'malformed signals: each recorded in the audit log',
        refusedSignals === MALFORMED.length,
        `${refusedSignals} decision_rejected audit events for ${MALFORMED.length} malformed signals`,
      ),
    );

    // 2. The same as updates (bypassing the client's own check): refused before they are accepted.
    const updateAnswers = await Promise.all(
      MALFORMED.map((m) =>
        handle.executeUpdate<ReviewOutcome, [unknown]>('review', { args: [m.payload] }).then(
          (outcome) => `${m.kind}: accepted (${JSON.stringify(outcome).slice(0, 100)})`,
          (err: Error) => (m.error.test(deepest(err)) ? null : `${m.kind}: refused with "${deepest(err)}"`),
        ),
      ),
    );
    const wrongUpdates = updateAnswers.filter((a): a is string => a !== null);
    const auditAfterUpdates = await auditCount('decision_rejected');
    const desc = await handle.describe();
    const p2 = await progress();
    checks.push(
      check(
        'malformed updates: each refused with its reason',
        wrongUpdates.length === 0,
        wrongUpdates.length === 0
          ? `${MALFORMED.length} refused by the update validator (not recorded: ` +
              `${auditAfterUpdates - refusedSignals} more decision_rejected audit events, a validator's refusal never reaches history)`
          : wrongUpdates.join('; '),
      ),
      check(
        'the batch keeps waiting for review, nothing decided',
        desc.status.name === 'RUNNING' &&
          p2.status === 'awaiting_review' &&
          p2.counts.pendingReview === expected.quarantined,
        `${desc.status.name}, ${p2.status}, ${p2.counts.pendingReview} pending`,
      ),
    );

    // 3. Decisions that are well-formed but select nothing it may touch: no held record, or a committed one.
    const committedNo = Number(
      (
        await ctx.db.query<{ n: string }>(
          `SELECT min(record_no) AS n FROM record_disposition WHERE batch_id = $1 AND status = 'committed'`,
          [batch.batchId],
        )
      ).rows[0]!.n,
    );
    const beyond = await ctx.client.decide(batch.batchId, {
      decisionId: 'beyond-the-batch',
      records: [expected.records + 1000],
      action: 'reject',
      reviewer,
    });
    const onCommitted = await ctx.client.decide(batch.batchId, {
      decisionId: 'reject-a-committed-record',
      records: [committedNo],
      action: 'reject',
      reviewer,
    });
    const committedStill = (
      await ctx.db.query<{ status: string }>(
        'SELECT status FROM record_disposition WHERE batch_id = $1 AND record_no = $2',
        [batch.batchId, committedNo],
      )
    ).rows[0]?.status;
    checks.push(
      check(
        'a decision naming records that are not held changes nothing',
        beyond.selected === 0 &&
          onCommitted.selected === 0 &&
          onCommitted.rejected === 0 &&
          committedStill === 'committed' &&
          (await pending()) === expected.quarantined,
        `record ${expected.records + 1000}: selected ${beyond.selected}; committed record ${committedNo}: ` +
          `selected ${onCommitted.selected}, rejected ${onCommitted.rejected}, now ${committedStill}`,
      ),
    );

    // 4. An amendment that adds an unknown field: re-validation fails, the record stays held (as schema_violation).
    const [colourNo] = (
      await ctx.db.query<{ n: string }>(
        `SELECT record_no AS n FROM record_disposition WHERE batch_id = $1 AND status = 'quarantined'
            AND reason_code = 'nonstandard_location' ORDER BY record_no LIMIT 1`,
        [batch.batchId],
      )
    ).rows.map((r) => Number(r.n));
    const colour = await ctx.client.decide(batch.batchId, {
      decisionId: 'amend-unknown-field',
      records: [colourNo!],
      action: 'amend',
      patch: { colour: 'red' },
      reviewer,
    });
    const colourRow = (
      await ctx.db.query<{ status: string; reason_code: string }>(
        'SELECT status, reason_code FROM record_disposition WHERE batch_id = $1 AND record_no = $2',
        [batch.batchId, colourNo],
      )
    ).rows[0];
    checks.push(
      check(
        'an amendment adding an unknown field leaves the record held',
        colour.selected === 1 && colour.stillHeld === 1 && colour.approved === 0 && colourRow?.status === 'quarantined',
        `record ${colourNo}: ${JSON.stringify({ ...colour, counts: undefined })}, now ${colourRow?.status} (${colourRow?.reason_code})`,
      ),
    );

    // 5. The same decision twice by signal and twice by update, then its id reused for something else.
    const outliers = n('quantity_outlier');
    const approveOutliers = {
      decisionId: 'approve-outliers',
      reasonCode: 'quantity_outlier',
      action: 'approve' as const,
      reviewer,
      note: 'checked against the purchase orders',
    };
    await handle.signal<[unknown]>('review', approveOutliers);
    const viaUpdate = handle.startUpdate<ReviewOutcome, [unknown]>('review', {
      args: [approveOutliers],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await handle.signal<[unknown]>('review', JSON.stringify(approveOutliers)); // as the UI sends text
    const firstUpdate = await (await viaUpdate).result();
    const secondUpdate = await ctx.client.decide(batch.batchId, approveOutliers);
    await handle.signal<[unknown]>('review', {
      decisionId: 'approve-outliers',
      all: true,
      action: 'reject',
      reviewer,
      note: 'same id, different decision',
    });
    // A later decision through the same queue proves the ones before it were handled.
    const probe = await ctx.client.decide(batch.batchId, {
      decisionId: 'approve-invalid-quantity-as-is',
      reasonCode: 'invalid_quantity',
      action: 'approve',
      reviewer,
    });
    const decisionRows = (
      await ctx.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM review_decision WHERE batch_id = $1 AND decision_id = $2',
        [batch.batchId, 'approve-outliers'],
      )
    ).rows[0]!.n;
    const approvedEvents = (
      await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit_event WHERE batch_id = $1 AND event = 'approved_and_committed'
            AND detail->>'decision_id' = 'approve-outliers'`,
        [batch.batchId],
      )
    ).rows[0]!.n;
    const afterDup = await statusCounts(ctx.db, batch.batchId);
    const pendingAfterDup = await pending();
    const refusedAfterReuse = (await progress()).rejectedDecisions.length;
    checks.push(
      check(
        'the same decision sent four times is applied once',
        decisionRows === 1 && (afterDup.approved ?? 0) === outliers && approvedEvents === outliers,
        `review_decision rows ${decisionRows}; approved dispositions ${afterDup.approved ?? 0} (outliers ${outliers}); ` +
          `approved_and_committed audit events ${approvedEvents}`,
      ),
      check(
        'an update repeating an applied decision is answered applied: false (ReviewOutcome.applied)',
        !secondUpdate.applied,
        `update sent while the signal's copy was queued: applied=${firstUpdate.applied}, approved ${firstUpdate.approved}; ` +
          `update sent after it was applied: applied=${secondUpdate.applied}, approved ${secondUpdate.approved}`,
      ),
      check(
        'a reused decision id with a different decision is ignored',
        pendingAfterDup === expected.quarantined - outliers && (afterDup.rejected ?? 0) === 0,
        `${pendingAfterDup} pending (expected ${expected.quarantined - outliers}), ${afterDup.rejected ?? 0} rejected; ` +
          `the reuse is not reported (${refusedAfterReuse} refusals listed, as before)`,
      ),
      check(
        'approving records that failed validation leaves them held',
        probe.applied && probe.approved === 0 && probe.stillHeld === n('invalid_quantity'),
        `${JSON.stringify({ ...probe, counts: undefined })}`,
      ),
    );

    // 6. The rest: amend locations and quantities (by update), reject what is left (by signal).
    const locations = await ctx.client.decide(batch.batchId, {
      decisionId: 'fix-locations',
      reasonCode: 'nonstandard_location',
      action: 'amend',
      patch: { location: 'CHEM-101' },
      reviewer,
      note: 'moved to the chemistry store',
    });
    const quantities = await ctx.client.decide(batch.batchId, {
      decisionId: 'fix-quantities',
      reasonCode: 'invalid_quantity',
      action: 'amend',
      patch: { quantity: '7' },
      reviewer,
    });
    await handle.signal<[unknown]>('review', { decisionId: 'reject-rest', all: true, action: 'reject', reviewer });
    const final = await batch.result();

    const approved = outliers + locations.approved + quantities.approved;
    const rejected = n('invalid_grant_code') + 1; // and the record amended with an unknown field
    const want: RecordCounts = {
      records: expected.records,
      committed: expected.committed + approved,
      duplicates: expected.duplicates,
      quarantined: expected.quarantined,
      approved,
      rejected,
      pendingReview: 0,
    };
    const finalCounts = await statusCounts(ctx.db, batch.batchId);
    const decided = (
      await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM review_decision WHERE batch_id = $1', [
        batch.batchId,
      ])
    ).rows[0]!.n;
    checks.push(
      check(
        'amendments commit what now validates',
        locations.approved === n('nonstandard_location') - 1 && quantities.approved === n('invalid_quantity'),
        `locations ${locations.approved} of ${n('nonstandard_location') - 1}, quantities ${quantities.approved} of ${n('invalid_quantity')}`,
      ),
      check(
        'the batch completes with the oracle adjusted by the decisions',
        final.status === 'completed' &&
          final.committed === want.committed &&
          final.duplicates === want.duplicates &&
          final.approved === want.approved &&
          final.rejected === want.rejected &&
          final.pendingReview === 0 &&
          final.records === want.records,
        `final ${JSON.stringify(pick(final))}, want ${JSON.stringify(want)}; dispositions ${JSON.stringify(finalCounts)}`,
      ),
      check(
        'every applied decision recorded once',
        decided === 8,
        `${decided} review_decision rows (beyond-the-batch, reject-a-committed-record, amend-unknown-field, ` +
          'approve-outliers, approve-invalid-quantity-as-is, fix-locations, fix-quantities, reject-rest)',
      ),
    );

    // The held record amended with an unknown field is now filed under schema_violation.
    const byReason: Record<string, number> = { ...by, schema_violation: n('schema_violation') + 1 };
    if (n('nonstandard_location') > 1) byReason.nonstandard_location = n('nonstandard_location') - 1;
    else delete byReason.nonstandard_location;
    const adjusted = { ...expected, byReason };
    return {
      batches: [{ batchId: batch.batchId, expected: adjusted }],
      expectRetry: false,
      checks,
      fault: `${MALFORMED.length} malformed decisions by signal and by update; one decision sent 4 times; a reused id`,
    };
  },
};

function deepest(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: Error }).cause;
  return e instanceof Error ? e.message : String(e);
}

function pick(r: RecordCounts & { status: string }): Record<string, unknown> {
  const { status, records, committed, duplicates, quarantined, approved, rejected, pendingReview } = r;
  return { status, records, committed, duplicates, quarantined, approved, rejected, pendingReview };
}
