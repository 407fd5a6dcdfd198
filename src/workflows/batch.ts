/**
 * One batch: plan -> a sliding window of chunk children -> review -> report.
 *
 * The plan lives in Postgres; this workflow keeps a cursor (the next chunk number) and counters, and continues as new
 * when Temporal suggests it, after draining in-flight children and handlers. Review decisions arrive by signal or
 * update at any time; they are applied once every chunk is done, in arrival order, until nothing is pending or the
 * review deadline passes.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SluiceActivities } from '../activities/index.ts';
import type {
  BatchInput,
  BatchProgress,
  BatchReport,
  BatchStatus,
  ChunkResult,
  CircuitView,
  PlanResult,
  RecordCounts,
  RejectedDecision,
  ReviewDecision,
  ReviewOutcome,
} from '../shared/contracts.ts';
import { addCounts, zeroCounts } from '../shared/contracts.ts';
import { checkReviewDecision } from '../shared/review-decision.ts';
import { SluicePendingReview, SluiceStatus } from '../shared/search-attributes.ts';
import { chunkWorkflowId } from '../shared/task-queues.ts';
import { activityOptions } from './activity-options.ts';
import { chunkWorkflow } from './chunk.ts';
import type { BreakerSample } from './circuit-breaker.ts';
import { breakerConfig, nextCooldown, recordSample, sampleOf, shouldOpen, windowStats } from './circuit-breaker.ts';
import { toleranceExceeded } from './tolerated-failures.ts';
import type { PendingReviewView } from './messages.ts';
import {
  pauseSignal,
  pendingReviewQuery,
  progressQuery,
  resumeSignal,
  reviewSignal,
  reviewUpdate,
} from './messages.ts';
import type { ReviewSnapshot } from './review-details.ts';
import { exampleDecision, reviewDetailsMarkdown } from './review-details.ts';

/** What survives continue-as-new: a cursor and counters, never records. */
export interface BatchCarry {
  phase: 'chunks' | 'review';
  plan: PlanResult;
  nextChunk: number;
  chunksDone: number;
  counts: RecordCounts;
  failedChunks: number[];
  reviewDeadline: string | null;
  /** Decisions applied or refused so far (most recent 500), so a repeated decisionId is a no-op. */
  seenDecisionIds: string[];
  queued: ReviewDecision[];
  rejectedDecisions: RejectedDecision[];
  /** Added after the first release of this workflow: absent in older runs' continue-as-new input. */
  paused?: boolean;
  /** Held records per reason code so far (tolerated failure thresholds); absent in older runs. */
  heldByReason?: Record<string, number>;
  /** The circuit breaker's samples within its window, and how often it opened; absent in older runs. */
  breakerSamples?: BreakerSample[];
  breakerOpened?: number;
}

const MAX_REMEMBERED_DECISIONS = 500;
const MAX_REJECTED_SHOWN = 20;
const CHILD_ATTEMPTS = 3;

export async function batchWorkflow(input: BatchInput, carry?: BatchCarry): Promise<BatchReport> {
  const { config } = input;
  const { planBatch, batchCounts, finishBatch, reviewSummary } = proxyActivities<SluiceActivities>(
    activityOptions(config.stages.plan, { heartbeat: true }),
  );
  const { applyReviewDecision, expireReview, recordRejectedDecision } = proxyActivities<SluiceActivities>(
    activityOptions(config.stages.review),
  );

  let status: BatchStatus = !carry
    ? 'planning'
    : carry.phase === 'review'
      ? 'awaiting_review'
      : carry.paused
        ? 'paused'
        : 'running';
  let plan: PlanResult = carry?.plan ?? { chunks: 0, records: 0 };
  let nextChunk = carry?.nextChunk ?? 0;
  let chunksDone = carry?.chunksDone ?? 0;
  let counts: RecordCounts = carry?.counts ?? zeroCounts();
  const failedChunks: number[] = carry?.failedChunks ?? [];
  let reviewDeadline: string | null = carry?.reviewDeadline ?? null;
  const seenDecisionIds: string[] = carry?.seenDecisionIds ?? [];
  const queued: ReviewDecision[] = carry?.queued ?? [];
  const rejectedDecisions: RejectedDecision[] = carry?.rejectedDecisions ?? [];
  const outcomes: Record<string, ReviewOutcome> = {};
  let inFlight = 0;
  let summary: ReviewSnapshot = { groups: [], records: [] };
  /** Set once nothing is pending any more: a decision still waiting then is answered "not applied". */
  let reviewClosed = false;
  let paused = carry?.paused ?? false;
  const breaker = breakerConfig(config.circuit_breaker);
  let breakerSamples: BreakerSample[] = carry?.breakerSamples ?? [];
  let breakerOpened = carry?.breakerOpened ?? 0;
  let circuit: CircuitView['state'] = 'closed';
  const heldByReason: Record<string, number> = carry?.heldByReason ?? {};
  /** Set when a tolerated failure threshold is crossed: no more chunks are dispatched. */
  let stopReason: string | null = null;
  /** The cause of the first chunk that failed in this run, for the batch's error. */
  let firstFailure: string | null = null;

  // Handlers first, so buffered signals are applied before anything else (and reach continue-as-new).
  const refuse = (payload: unknown, error: string): void => {
    const decisionId =
      typeof payload === 'object' &&
      payload !== null &&
      typeof (payload as { decisionId?: unknown }).decisionId === 'string'
        ? (payload as { decisionId: string }).decisionId
        : null;
    rejectedDecisions.push({ decisionId, error });
    if (rejectedDecisions.length > MAX_REJECTED_SHOWN) rejectedDecisions.shift();
    log.warn('review decision refused', { decisionId, error });
  };
  const accept = (decision: ReviewDecision): void => {
    if (seenDecisionIds.includes(decision.decisionId) || queued.some((d) => d.decisionId === decision.decisionId)) {
      return; // the same decision again: nothing to do
    }
    queued.push(decision);
  };

  setHandler(
    reviewSignal,
    async (payload: unknown) => {
      const check = checkReviewDecision(payload);
      if (check.ok) {
        accept(check.decision);
        return;
      }
      refuse(payload, check.error);
      // The signal is in history already; the activity gets at most 2 KB of it, to keep its input small.
      const text = JSON.stringify(payload) ?? String(payload);
      await recordRejectedDecision({
        batchId: input.batchId,
        payload: text.length > 2048 ? `${text.slice(0, 2048)}…` : text,
        error: check.error,
      });
    },
    {
      description:
        'Approve, amend or reject held records. JSON: {decisionId, records|reasonCode|errorSignature|all, action, patch?, reviewer, note?}',
    },
  );
  setHandler(
    reviewUpdate,
    async (payload: unknown): Promise<ReviewOutcome> => {
      const check = checkReviewDecision(payload);
      if (!check.ok) throw ApplicationFailure.nonRetryable(check.error, 'MalformedDecision');
      const { decisionId } = check.decision;
      // A decisionId seen before changes nothing: it is answered `applied: false` once the first one is done.
      const repeated = seenDecisionIds.includes(decisionId) || queued.some((d) => d.decisionId === decisionId);
      accept(check.decision);
      await condition(
        () =>
          reviewClosed ||
          outcomes[decisionId] !== undefined ||
          (seenDecisionIds.includes(decisionId) && !queued.some((d) => d.decisionId === decisionId)),
      );
      return (
        (repeated ? undefined : outcomes[decisionId]) ?? {
          decisionId,
          applied: false,
          selected: 0,
          approved: 0,
          rejected: 0,
          duplicates: 0,
          stillHeld: 0,
          counts,
        }
      );
    },
    {
      validator: (payload: unknown) => {
        const check = checkReviewDecision(payload);
        if (!check.ok) throw new Error(check.error);
        // An update waits for its outcome, which exists only once the batch awaits review; earlier, a waiting update
        // would also hold up continue-as-new. Signals may arrive at any time and are applied when review starts.
        if (status !== 'awaiting_review' || reviewClosed) {
          throw new Error(`batch ${input.batchId} is ${status}, not awaiting review: nothing to decide now`);
        }
      },
      description: 'Same decision as the review signal; answers with the outcome.',
    },
  );
  setHandler(
    pauseSignal,
    (req) => {
      paused = true;
      log.info('batch paused', { operator: req?.operator ?? null, reason: req?.reason ?? null });
      if (status === 'running') setStatus('paused');
    },
    { description: 'Stop dispatching new chunks; in-flight chunks finish. JSON: {operator?, reason?}' },
  );
  setHandler(
    resumeSignal,
    (req) => {
      paused = false;
      log.info('batch resumed', { operator: req?.operator ?? null });
      if (status === 'paused') setStatus('running');
    },
    { description: 'Dispatch chunks again after a pause. JSON: {operator?}' },
  );
  setHandler(
    progressQuery,
    (): BatchProgress => ({
      status,
      chunks: plan.chunks,
      chunksDone,
      chunksInFlight: inFlight,
      plannedRecords: plan.records,
      counts,
      rejectedDecisions,
      reviewDeadline,
      circuit: { state: circuit, ...windowStats(breakerSamples, Date.now(), breaker), opened: breakerOpened },
      stopReason,
    }),
    { description: 'Live counts of the batch.' },
  );
  setHandler(
    pendingReviewQuery,
    (): PendingReviewView => ({
      pendingReview: counts.pendingReview,
      reviewDeadline,
      groups: summary.groups,
      records: summary.records,
      details: `sluice review show ${input.batchId}`,
      example: exampleDecision(summary.groups),
    }),
    { description: 'Held records grouped by reason, and a decision to paste into the signal dialog.' },
  );

  const setStatus = (next: BatchStatus): void => {
    status = next;
    upsertSearchAttributes([
      { key: SluiceStatus, value: status },
      { key: SluicePendingReview, value: counts.pendingReview },
    ]);
    // Shown by the Web UI with the workflow's summary: what is held, and the decision to paste.
    setCurrentDetails(
      status === 'awaiting_review' || status === 'completed'
        ? reviewDetailsMarkdown(input.batchId, counts, reviewDeadline, summary)
        : `## ${status}\n\n${chunksDone} of ${plan.chunks} chunks done, ${counts.records} records so far.`,
    );
  };

  const drainAndContinue = async (phase: BatchCarry['phase']): Promise<never> => {
    await condition(() => inFlight === 0);
    await condition(allHandlersFinished);
    return continueAsNew<typeof batchWorkflow>(input, {
      phase,
      plan,
      nextChunk,
      chunksDone,
      counts,
      failedChunks,
      reviewDeadline,
      seenDecisionIds: seenDecisionIds.slice(-MAX_REMEMBERED_DECISIONS),
      queued,
      rejectedDecisions,
      paused,
      heldByReason,
      breakerSamples,
      breakerOpened,
    });
  };

  // 1. Plan (first run only).
  if (!carry) {
    try {
      plan = await planBatch({ batch: input, workflowId: workflowInfo().workflowId });
    } catch (err) {
      setStatus('failed');
      await finishBatch({ batchId: input.batchId, status: 'failed' });
      throw ApplicationFailure.nonRetryable(
        `batch ${input.batchId} could not be planned: ${causeMessage(err)}`,
        'PlanFailed',
      );
    }
    setStatus(paused ? 'paused' : 'running');
  }

  // 2. Chunks, at most max_concurrent_chunks in flight, while the breaker is closed and the thresholds hold.
  if (!carry || carry.phase === 'chunks') {
    const parentId = workflowInfo().workflowId;
    // Runs started before the breaker existed replay without it (their histories have no marker).
    const breakerOn = breaker.enabled && patched('circuit-breaker');
    /** Runs one chunk; true when its commit succeeded on the first attempt. */
    const runChunk = async (chunkNo: number): Promise<boolean> => {
      let result: ChunkResult | null = null;
      try {
        result = await executeChild(chunkWorkflow, {
          workflowId: chunkWorkflowId(parentId, chunkNo),
          args: [{ batchId: input.batchId, profile: input.profile, sha256: input.sha256, chunkNo, config }],
          retry: { maximumAttempts: CHILD_ATTEMPTS },
        });
        counts = addCounts(counts, result.counts);
        for (const [code, n] of Object.entries(result.heldByReason ?? {})) {
          heldByReason[code] = (heldByReason[code] ?? 0) + n;
        }
      } catch (err) {
        failedChunks.push(chunkNo);
        firstFailure ??= `chunk ${chunkNo}: ${causeMessage(err)}`;
        log.error('chunk failed', { chunkNo, error: causeMessage(err) });
      } finally {
        chunksDone += 1;
        inFlight -= 1;
        setCurrentDetails(
          `## running\n\n${chunksDone} of ${plan.chunks} chunks done, ${counts.records} records so far.`,
        );
      }
      const sample = sampleOf(result, Date.now(), config.stages.commit.retry_policy.max_attempts);
      if (breakerOn) breakerSamples = recordSample(breakerSamples, sample, breaker);
      if (stopReason === null) {
        stopReason = toleranceExceeded(config.tolerated_failures, heldByReason, plan.records);
        if (stopReason !== null) log.warn('tolerated failures exceeded: stopping the batch', { stopReason });
      }
      return sample.failures === 0;
    };
    const tripped = () => breakerOn && circuit === 'closed' && shouldOpen(breakerSamples, Date.now(), breaker);
    /** Open: let in-flight chunks drain, wait the cooldown, probe with one chunk; closed again after a clean probe. */
    const waitOutBreaker = async (): Promise<void> => {
      circuit = 'open';
      breakerOpened += 1;
      log.warn('circuit breaker open: no new chunks until a probe succeeds', {
        ...windowStats(breakerSamples, Date.now(), breaker),
        cooldownSeconds: breaker.cooldown_seconds,
      });
      setStatus('circuit_open');
      await condition(() => inFlight === 0);
      let cooldown = breaker.cooldown_seconds;
      for (;;) {
        await sleep(cooldown * 1000);
        await condition(() => !paused || stopReason !== null);
        if (stopReason !== null || nextChunk >= plan.chunks) break;
        circuit = 'probing';
        inFlight += 1;
        const probeNo = nextChunk;
        nextChunk += 1;
        if ((await runChunk(probeNo)) || stopReason !== null) break;
        circuit = 'open';
        cooldown = nextCooldown(cooldown, breaker);
        log.warn('probe chunk failed: breaker stays open', { chunkNo: probeNo, cooldownSeconds: cooldown });
      }
      breakerSamples = [];
      circuit = 'closed';
      log.info('circuit breaker closed', { chunkNo: nextChunk });
      setStatus(paused ? 'paused' : 'running');
    };
    while (nextChunk < plan.chunks && stopReason === null) {
      await condition(() => stopReason !== null || tripped() || (!paused && inFlight < config.max_concurrent_chunks));
      if (stopReason !== null) break;
      if (tripped()) {
        await waitOutBreaker();
        continue;
      }
      if (workflowInfo().continueAsNewSuggested) await drainAndContinue('chunks');
      inFlight += 1;
      void runChunk(nextChunk);
      nextChunk += 1;
    }
    await condition(() => inFlight === 0);
    if (failedChunks.length > 0) {
      setStatus('failed');
      await finishBatch({ batchId: input.batchId, status: 'failed' });
      throw ApplicationFailure.nonRetryable(
        `batch ${input.batchId}: ${failedChunks.length} chunk(s) failed after ${CHILD_ATTEMPTS} attempts ` +
          `(chunks ${failedChunks.slice(0, 10).join(', ')})` +
          (firstFailure ? `; first failure, ${firstFailure}` : '') +
          "; see the chunk workflows' histories",
        'ChunksFailed',
      );
    }
    if (stopReason !== null) {
      // Everything dispatched has its disposition; the records of chunks never dispatched are reported as such.
      const final = await finishBatch({ batchId: input.batchId, status: 'stopped' });
      counts = final.counts;
      setStatus('stopped');
      await condition(allHandlersFinished);
      return {
        ...report(final),
        stopReason,
        notProcessed: Math.max(0, plan.records - counts.records),
      };
    }
    counts = await batchCounts({ batchId: input.batchId });
  }

  // 3. Review, while anything is held.
  if (counts.pendingReview > 0) {
    if (!reviewDeadline) {
      reviewDeadline = new Date(Date.now() + config.review_deadline_seconds * 1000).toISOString();
    }
    summary = await reviewSummary({ batchId: input.batchId });
    setStatus('awaiting_review');
    while (counts.pendingReview > 0) {
      const remaining = Date.parse(reviewDeadline) - Date.now();
      const woke =
        remaining > 0 && (await condition(() => queued.length > 0 || workflowInfo().continueAsNewSuggested, remaining));
      if (!woke) {
        counts = await expireReview({ batchId: input.batchId });
        log.info('review deadline passed; pending records rejected', { batchId: input.batchId });
        break;
      }
      const decision = queued.shift();
      if (!decision) {
        // Continue as new once no handler is busy; a decision arriving meanwhile is applied first.
        await condition(() => queued.length > 0 || allHandlersFinished());
        if (queued.length === 0) await drainAndContinue('review');
        continue;
      }
      const outcome = await applyReviewDecision({ batchId: input.batchId, profile: input.profile, decision });
      counts = outcome.counts;
      // Refresh what the queries show before the update answers, so a caller never reads a stale view.
      if (counts.pendingReview > 0) summary = await reviewSummary({ batchId: input.batchId });
      seenDecisionIds.push(decision.decisionId);
      if (seenDecisionIds.length > MAX_REMEMBERED_DECISIONS) seenDecisionIds.shift();
      outcomes[decision.decisionId] = outcome;
      setStatus('awaiting_review');
    }
  }

  // 4. Report. Decisions still queued have nothing left to act on.
  reviewClosed = true;
  if (queued.length > 0) log.info('decisions arrived after the review ended', { decisions: queued.length });
  queued.length = 0;
  const final = await finishBatch({ batchId: input.batchId, status: 'completed' });
  counts = final.counts;
  setStatus('completed');
  await condition(allHandlersFinished);
  return report(final);

  function report(final: { startedAt: string | null; finishedAt: string | null; ledgerHash: string }): BatchReport {
    return {
      batchId: input.batchId,
      workflowId: workflowInfo().workflowId,
      profile: input.profile,
      status,
      sha256: input.sha256,
      ...counts,
      chunks: plan.chunks,
      startedAt: final.startedAt,
      finishedAt: final.finishedAt,
      ledgerHash: final.ledgerHash,
    };
  }
}

function causeMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: Error }).cause;
  return e instanceof Error ? e.message : String(e);
}
