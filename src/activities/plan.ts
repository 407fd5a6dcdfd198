/**
 * Registering and planning a batch, and reading its final counts.
 */
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { BatchInput, PlanResult, RecordCounts } from '../shared/contracts.ts';
import { FailureType } from '../shared/failure-types.ts';
import type { ChunkPlan, InputLayout } from '../profiles/types.ts';
import {
  countDispositions,
  finishPlan,
  getBatch,
  markBatchFinished,
  registerBatch,
  savePlanPage,
} from '../store/batches.ts';
import { sha256OfFile } from '../store/blobs.ts';
import { ledgerHash } from '../store/ledger.ts';
import type { ActivityDeps } from './index.ts';
import { withHeartbeat } from './heartbeat.ts';
import { toFailure } from './to-failure.ts';

const PLAN_PAGE = 500;

export function createPlanActivities({ db, blobs, getProfile }: ActivityDeps) {
  return {
    /**
     * Registers the batch, checks the stored input against its SHA-256, and writes the chunk plan to Postgres in
     * pages. Only the totals come back: the plan never sits in workflow history.
     */
    async planBatch(input: { batch: BatchInput; workflowId: string }): Promise<PlanResult> {
      const { batch } = input;
      try {
        const profile = getProfile(batch.profile);
        await registerBatch(db, {
          batchId: batch.batchId,
          workflowId: input.workflowId,
          profile: batch.profile,
          sha256: batch.sha256,
          size: batch.size,
          fileName: batch.fileName,
          config: batch.config,
        });
        const existing = await getBatch(db, batch.batchId);
        if (existing?.plannedAt && existing.chunks !== null && existing.records !== null) {
          return { chunks: existing.chunks, records: existing.records };
        }

        let layout: InputLayout = {};
        let page: ChunkPlan[] = [];
        let chunks = 0;
        let records = 0;
        const planned = await withHeartbeat(
          async () => {
            const file = await blobs.localPath(batch.sha256);
            const actual = await sha256OfFile(file);
            if (actual !== batch.sha256) {
              throw ApplicationFailure.nonRetryable(
                `${batch.fileName}: stored input is corrupt (SHA-256 ${actual}, expected ${batch.sha256})`,
                FailureType.IntegrityError,
              );
            }
            const limits = {
              maxRecords: batch.config.max_chunk_size,
              maxBytes: Math.floor(batch.config.max_payload_mb * 1024 * 1024),
            };
            for await (const item of profile.plan(file, batch.fileName, limits, batch.config.input ?? {})) {
              if ('layout' in item) {
                layout = item.layout;
                continue;
              }
              page.push(item);
              chunks += 1;
              records += item.recordCount;
              if (page.length >= PLAN_PAGE) {
                await savePlanPage(db, batch.batchId, page);
                page = [];
              }
            }
            await savePlanPage(db, batch.batchId, page);
            await finishPlan(db, batch.batchId, layout, chunks, records);
            return { chunks, records };
          },
          () => ({ chunks, records }),
        );
        log.info('batch planned', { batchId: batch.batchId, ...planned });
        return planned;
      } catch (err) {
        throw toFailure(err, `batch ${batch.batchId}: planning ${batch.fileName}`);
      }
    },

    async batchCounts(input: { batchId: string }): Promise<RecordCounts> {
      return countDispositions(db, input.batchId);
    },

    async finishBatch(input: {
      batchId: string;
      status: string;
    }): Promise<{ counts: RecordCounts; ledgerHash: string; startedAt: string | null; finishedAt: string | null }> {
      return withHeartbeat(async () => {
        await markBatchFinished(db, input.batchId, input.status);
        const batch = await getBatch(db, input.batchId);
        return {
          counts: await countDispositions(db, input.batchId),
          ledgerHash: (await ledgerHash(db, input.batchId)).hash,
          startedAt: batch?.startedAt ?? null,
          finishedAt: batch?.finishedAt ?? null,
        };
      });
    },
  };
}
