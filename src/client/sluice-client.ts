/**
 * The TypeScript client: submit batches, read their status and progress, and review held records.
 *
 *   const sluice = await SluiceClient.connect(loadEnv());
 *   const batch = await sluice.submitBatch({ file: 'manifest.csv', profile: 'inventory' });
 *   const report = await batch.settled();     // returns once nothing is in flight
 *   const final = await batch.result();       // returns once the batch has closed, after its review
 */
import { basename } from 'node:path';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { resolveBatchConfig } from '../config/batch-config.ts';
import type { SluiceEnv } from '../config/env.ts';
import { getProfile } from '../profiles/index.ts';
import type {
  BatchConfig,
  BatchInput,
  BatchProgress,
  BatchReport,
  ReviewDecision,
  ReviewOutcome,
} from '../shared/contracts.ts';
import { zeroCounts } from '../shared/contracts.ts';
import { checkReviewDecision } from '../shared/review-decision.ts';
import { SluiceBatchId, SluicePendingReview, SluiceProfile, SluiceStatus } from '../shared/search-attributes.ts';
import { TASK_QUEUE, batchWorkflowId } from '../shared/task-queues.ts';
import { createLocalBlobStore } from '../store/blobs.ts';
import type { BlobStore } from '../store/blobs.ts';
import type { batchWorkflow } from '../workflows/batch.ts';
import type { PendingReviewView } from '../workflows/messages.ts';
import { pauseSignal, pendingReviewQuery, progressQuery, resumeSignal, reviewUpdate } from '../workflows/messages.ts';

export interface SubmitOptions {
  /** Path of the input file. */
  file: string;
  profile: string;
  /** Defaults to `<profile>-<first 16 hex of the input's SHA-256>`. */
  batchId?: string;
  /** The effective configuration; defaults to the profile's. */
  config?: BatchConfig;
}

export interface SubmittedBatch {
  batchId: string;
  workflowId: string;
  sha256: string;
  /** False when these bytes had been submitted before: the existing batch is returned and nothing new starts. */
  started: boolean;
}

/** A submitted batch and the ways to wait for it. */
export interface BatchHandle extends SubmittedBatch {
  /** The report once nothing is in flight (completed, failed, or awaiting review). */
  settled(onProgress?: (p: BatchProgress) => void, onStall?: (message: string) => void): Promise<BatchReport>;
  /** The final report, once the batch workflow has closed (after any review). */
  result(): Promise<BatchReport>;
  /** The report now: live while running. */
  status(): Promise<BatchReport>;
}

export interface WaitingBatch {
  batchId: string;
  profile: string;
  pendingReview: number;
  startedAt: string | null;
}

/** Statuses a batch workflow reports just before it closes. */
const CLOSING: readonly BatchReport['status'][] = ['completed', 'stopped', 'failed'];

export class UnknownBatchError extends Error {
  override name = 'UnknownBatchError';
}

export class SluiceClient {
  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    private readonly blobs: BlobStore,
  ) {}

  static async connect(env: Pick<SluiceEnv, 'temporalAddress' | 'namespace' | 'blobDir'>): Promise<SluiceClient> {
    let connection: Connection;
    try {
      connection = await Connection.connect({ address: env.temporalAddress, connectTimeout: '5s' });
    } catch (err) {
      throw new Error(
        `cannot reach Temporal at ${env.temporalAddress} (${(err as Error).message}). ` +
          'Start the local stack with `sluice dev`, or set TEMPORAL_ADDRESS.',
      );
    }
    const temporal = new Client({ connection, namespace: env.namespace });
    return new SluiceClient(temporal, connection, createLocalBlobStore(env.blobDir));
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /** Stores the input once (content-addressed) and starts its batch workflow, or finds the batch already started. */
  async submitBatch(opts: SubmitOptions): Promise<BatchHandle> {
    return this.handle(await this.startBatch(opts));
  }

  /** A handle to a batch submitted earlier. */
  handle(batch: SubmittedBatch): BatchHandle {
    return {
      ...batch,
      settled: (onProgress, onStall) => this.settled(batch.batchId, onProgress, onStall),
      result: async () => {
        await this.temporal.workflow
          .getHandle(batch.workflowId)
          .result()
          .catch(() => undefined);
        return this.getBatchStatus(batch.batchId);
      },
      status: () => this.getBatchStatus(batch.batchId),
    };
  }

  private async startBatch(opts: SubmitOptions): Promise<SubmittedBatch> {
    const profile = getProfile(opts.profile);
    const config = opts.config ?? resolveBatchConfig(undefined, profile);
    const blob = await this.blobs.put(opts.file);
    const batchId = opts.batchId ?? `${profile.id}-${blob.sha256.slice(0, 16)}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(batchId)) {
      throw new Error(`batch id ${JSON.stringify(batchId)}: use 1-128 letters, digits, '.', '_' or '-'`);
    }
    const workflowId = batchWorkflowId(batchId);
    const input: BatchInput = {
      batchId,
      profile: profile.id,
      sha256: blob.sha256,
      size: blob.size,
      fileName: basename(opts.file),
      config,
      submittedAt: new Date().toISOString(),
    };
    const existing = await this.describe(workflowId);
    if (existing) return { batchId, workflowId, sha256: blob.sha256, started: false };
    try {
      await this.temporal.workflow.start<typeof batchWorkflow>('batchWorkflow', {
        taskQueue: TASK_QUEUE.ingest,
        workflowId,
        args: [input],
        // One batch per id, ever: resubmitting the same bytes finds this run, running or closed. Of submissions
        // racing each other, exactly one starts it; the others get the already-started error and say so (with
        // USE_EXISTING every one of them would report that it had started the batch).
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        // Readable by describe() whatever state the run is in; hashes and names only, never record data.
        memo: { sha256: blob.sha256, fileName: input.fileName, size: blob.size },
        // What the Web UI shows as the workflow's summary and details (user metadata): which input, which settings.
        staticSummary: `${profile.id}: ${input.fileName} (${blob.size.toLocaleString('en-US')} bytes)`,
        staticDetails: [
          `**Batch** \`${batchId}\` (profile \`${profile.id}\`)`,
          `**Input** ${input.fileName}, ${blob.size} bytes, SHA-256 \`${blob.sha256}\``,
          `**Chunks** up to ${config.max_chunk_size} records and ${config.max_payload_mb} MiB, ` +
            `${config.max_concurrent_chunks} at once; review deadline ${config.review_deadline_seconds} s`,
          `**Submitted** ${input.submittedAt}`,
        ].join('\n\n'),
        typedSearchAttributes: [
          { key: SluiceBatchId, value: batchId },
          { key: SluiceProfile, value: profile.id },
          { key: SluiceStatus, value: 'planning' },
          { key: SluicePendingReview, value: 0 },
        ],
      });
      return { batchId, workflowId, sha256: blob.sha256, started: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        return { batchId, workflowId, sha256: blob.sha256, started: false };
      }
      throw err;
    }
  }

  /** The batch report: final when the workflow has closed, live (from the `progress` query) while it runs. */
  async getBatchStatus(batchId: string): Promise<BatchReport> {
    const workflowId = batchWorkflowId(batchId);
    const desc = await this.describe(workflowId);
    if (!desc) throw new UnknownBatchError(`no batch ${batchId} (workflow ${workflowId} not found)`);
    const handle = this.temporal.workflow.getHandle<typeof batchWorkflow>(workflowId);
    const base = {
      batchId,
      workflowId,
      profile: desc.typedSearchAttributes.get(SluiceProfile) ?? '',
      sha256: String(desc.memo?.sha256 ?? ''),
      startedAt: desc.startTime.toISOString(),
      finishedAt: desc.closeTime?.toISOString() ?? null,
    };
    if (desc.status.name === 'COMPLETED') return handle.result();
    if (desc.status.name === 'RUNNING') {
      const p = await this.queryProgress(batchId).catch((err: Error) => {
        throw new Error(
          `batch ${batchId} is running, but no worker answered its progress query (${err.message}): ` +
            'is a worker running (`sluice worker`, or `sluice dev`)?',
        );
      });
      return {
        ...base,
        ...p.counts,
        records: Math.max(p.counts.records, p.plannedRecords),
        status: p.status,
        chunks: p.chunks,
      };
    }
    // Failed, terminated, timed out or cancelled: a failed batch, with the reason.
    let error = `workflow ${desc.status.name.toLowerCase()}`;
    try {
      await handle.result();
    } catch (err) {
      error = deepestMessage(err);
    }
    return { ...base, ...zeroCounts(), status: 'failed', chunks: 0, error };
  }

  /** Live progress of a running batch. */
  async progress(batchId: string): Promise<BatchProgress> {
    return this.queryProgress(batchId);
  }

  /** Queries need a worker; without one the call would wait, so it gets a deadline. */
  private queryProgress(batchId: string, timeoutMs = 10_000): Promise<BatchProgress> {
    return this.connection.withDeadline(Date.now() + timeoutMs, () =>
      this.temporal.workflow.getHandle(batchWorkflowId(batchId)).query(progressQuery),
    );
  }

  /**
   * Waits until nothing of the batch is in flight: it completed, failed, or waits for review. Calls `onProgress`
   * about twice a second while it waits.
   */
  async settled(
    batchId: string,
    onProgress?: (p: BatchProgress) => void,
    onStall?: (message: string) => void,
  ): Promise<BatchReport> {
    const handle = this.temporal.workflow.getHandle(batchWorkflowId(batchId));
    let stalledSince: number | null = null;
    for (;;) {
      const desc = await handle.describe();
      if (desc.status.name !== 'RUNNING') break;
      try {
        const p = await this.queryProgress(batchId, 5_000);
        stalledSince = null;
        onProgress?.(p);
        // A batch that awaits review keeps running; one that completed, stopped or failed is about to close, and its
        // report (with its error or ledger hash) is the workflow's result: wait for that rather than the live view.
        if (p.status === 'awaiting_review') break;
        if (CLOSING.includes(p.status)) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
      } catch {
        // No worker has picked the batch up yet (queries need one); keep waiting, and say so once.
        stalledSince ??= Date.now();
        if (Date.now() - stalledSince > 15_000) {
          onStall?.(`no worker is answering for batch ${batchId}; start one with \`sluice worker\` or \`sluice dev\``);
          stalledSince = Number.POSITIVE_INFINITY;
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    return this.getBatchStatus(batchId);
  }

  /** Batches with records waiting for review (search attribute SluicePendingReview > 0). */
  async listAwaitingReview(): Promise<WaitingBatch[]> {
    const out: WaitingBatch[] = [];
    const query = 'SluicePendingReview > 0 AND ExecutionStatus = "Running"';
    for await (const wf of this.temporal.workflow.list({ query })) {
      out.push({
        batchId: wf.typedSearchAttributes.get(SluiceBatchId) ?? wf.workflowId,
        profile: wf.typedSearchAttributes.get(SluiceProfile) ?? '',
        pendingReview: wf.typedSearchAttributes.get(SluicePendingReview) ?? 0,
        startedAt: wf.startTime.toISOString(),
      });
    }
    return out;
  }

  async pendingReview(batchId: string): Promise<PendingReviewView> {
    return this.temporal.workflow.getHandle(batchWorkflowId(batchId)).query(pendingReviewQuery);
  }

  /** Stops dispatching new chunks of a batch (in-flight chunks finish); `resume` starts again. */
  async pause(batchId: string, opts: { operator?: string; reason?: string } = {}): Promise<void> {
    await this.temporal.workflow.getHandle(batchWorkflowId(batchId)).signal(pauseSignal, opts);
  }

  async resume(batchId: string, opts: { operator?: string } = {}): Promise<void> {
    await this.temporal.workflow.getHandle(batchWorkflowId(batchId)).signal(resumeSignal, opts);
  }

  /** Sends a decision through the `review` update and returns its outcome once applied. */
  async decide(batchId: string, decision: ReviewDecision): Promise<ReviewOutcome> {
    const check = checkReviewDecision(decision);
    if (!check.ok) throw new Error(`invalid decision: ${check.error}`);
    const handle = this.temporal.workflow.getHandle(batchWorkflowId(batchId));
    try {
      return await handle.executeUpdate(reviewUpdate, { args: [check.decision] });
    } catch (err) {
      // The workflow's reason (validator or handler) is the cause; "Workflow Update failed" alone says nothing.
      if (err instanceof WorkflowUpdateFailedError) throw new Error(`decision refused: ${deepestMessage(err)}`);
      throw err;
    }
  }

  private async describe(workflowId: string): Promise<WorkflowExecutionDescription | null> {
    try {
      return await this.temporal.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }
}

function deepestMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: Error }).cause;
  return e instanceof Error ? e.message : String(e);
}
