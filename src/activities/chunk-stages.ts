/**
 * The four stages of a chunk: parse -> validate -> classify -> commit. Each takes a small reference to the chunk and
 * returns counts; the records pass between stages through the worker's ChunkCache, and a stage that finds the cache
 * empty recomputes the earlier stages from the blob (they are pure functions of the input bytes).
 */
import { Context } from '@temporalio/activity';
import type { BatchConfig, ChunkCommitResult, StageRef } from '../shared/contracts.ts';
import { profileContext } from '../profiles/context.ts';
import type {
  Classification,
  InputLayout,
  ProfileContext,
  SourceRecord,
  ValidationOutcome,
} from '../profiles/types.ts';
import { referenceLookup } from '../store/reference.ts';
import { getBatch, getChunk } from '../store/batches.ts';
import type { ChunkDelivery, HeldRecord } from '../store/commit.ts';
import { commitChunk } from '../store/commit.ts';
import { deliverOverHttp } from './http-delivery.ts';
import { afterCommitFault, beforeCommitFault } from './drill-faults.ts';
import type { HttpTarget } from '../targets/http-target.ts';
import type { ChunkCache, ChunkState } from './chunk-cache.ts';
import { withHeartbeat } from './heartbeat.ts';
import { splitForCommit } from './split-for-commit.ts';
import type { ActivityDeps } from './index.ts';
import { toFailure } from './to-failure.ts';

export type ChunkRef = Omit<StageRef, 'records'>;

interface BatchFacts {
  layout: InputLayout;
  fileName: string;
  config: BatchConfig;
  context: ProfileContext;
}

/** Commits to an HTTP target (src/activities/http-delivery.ts); refused records move to `held` as `commit_rejected`. */
function httpDelivery(target: HttpTarget, ref: ChunkRef, records: SourceRecord[]): ChunkDelivery {
  return async (tx, split) => {
    const refusal = await deliverOverHttp(tx, target, ref, split.commit);
    if (!refusal) return split;
    const byNo = new Map(records.map((r) => [r.recordNo, r]));
    const refused = split.commit.filter((c) => refusal.keys.has(c.idempotencyKey));
    const held: HeldRecord[] = refused.map((c) => ({
      recordNo: c.recordNo,
      reasonCode: 'commit_rejected',
      issues: [{ path: '', code: 'commit_rejected', message: refusal.message }],
      source: byNo.get(c.recordNo)!.fields,
      location: byNo.get(c.recordNo)!.location,
      idempotencyKey: c.idempotencyKey,
      businessKey: c.businessKey,
    }));
    return {
      commit: split.commit.filter((c) => !refusal.keys.has(c.idempotencyKey)),
      held: [...split.held, ...held],
    };
  };
}

export function createChunkStageActivities({ db, blobs, getProfile }: ActivityDeps, cache: ChunkCache) {
  const layouts = new Map<string, BatchFacts>();
  const lookup = referenceLookup(db);
  const keyOf = (ref: ChunkRef) => `${ref.batchId}/${ref.chunkNo}`;

  async function batchLayout(batchId: string): Promise<BatchFacts> {
    const known = layouts.get(batchId);
    if (known) return known;
    const batch = await getBatch(db, batchId);
    if (!batch?.layout) throw new Error(`batch ${batchId} is not planned yet`);
    const entry = {
      layout: batch.layout,
      fileName: batch.fileName,
      config: batch.config,
      context: profileContext(batch.config),
    };
    if (layouts.size > 100) layouts.clear();
    layouts.set(batchId, entry);
    return entry;
  }

  async function source(ref: ChunkRef, state: ChunkState): Promise<SourceRecord[]> {
    if (state.source) return state.source;
    const chunk = await getChunk(db, ref.batchId, ref.chunkNo);
    if (!chunk) throw new Error(`chunk ${ref.chunkNo} of batch ${ref.batchId} is not planned`);
    const { layout, fileName } = await batchLayout(ref.batchId);
    const file = await blobs.localPath(ref.sha256);
    state.source = await getProfile(ref.profile).readChunk(file, fileName, layout, chunk);
    return state.source;
  }

  async function validated(ref: ChunkRef, state: ChunkState): Promise<ValidationOutcome<unknown>[]> {
    if (state.validated) return state.validated;
    const profile = getProfile(ref.profile);
    const { context } = await batchLayout(ref.batchId);
    state.validated = (await source(ref, state)).map((r) =>
      r.parseIssues
        ? { ok: false, reasonCode: 'parse_error', issues: r.parseIssues }
        : profile.validate(r.fields, context),
    );
    return state.validated;
  }

  async function classified(ref: ChunkRef, state: ChunkState): Promise<(Classification | null)[]> {
    if (state.classified) return state.classified;
    const profile = getProfile(ref.profile);
    const { context } = await batchLayout(ref.batchId);
    const outcomes = await validated(ref, state);
    const valid = outcomes.flatMap((v) => (v.ok ? [v.record] : []));
    const prepared = profile.prepareClassify ? await profile.prepareClassify(valid, lookup, context) : undefined;
    state.classified = outcomes.map((v) => (v.ok ? profile.classify(v.record, prepared, context) : null));
    return state.classified;
  }

  const stage =
    <R>(name: string, fn: (ref: ChunkRef, state: ChunkState) => Promise<R>) =>
    async (ref: ChunkRef): Promise<R> => {
      try {
        return await fn(ref, cache.get(keyOf(ref)));
      } catch (err) {
        throw toFailure(err, `batch ${ref.batchId} chunk ${ref.chunkNo}: ${name}`);
      }
    };

  return {
    parseChunk: stage('parse', async (ref, state) => ({ records: (await source(ref, state)).length })),

    validateChunk: stage('validate', async (ref, state) => {
      const outcomes = await validated(ref, state);
      const invalid = outcomes.filter((o) => !o.ok).length;
      return { valid: outcomes.length - invalid, invalid };
    }),

    classifyChunk: stage('classify', async (ref, state) => {
      const labels = await withHeartbeat(() => classified(ref, state));
      return { held: labels.filter((c) => c?.hold === true).length };
    }),

    commitChunk: stage('commit', async (ref, state): Promise<ChunkCommitResult> => {
      const profile = getProfile(ref.profile);
      const records = await source(ref, state);
      const outcomes = await validated(ref, state);
      const labels = await classified(ref, state);
      const { commit, held } = splitForCommit(profile, records, outcomes, labels);
      const { config } = await batchLayout(ref.batchId);
      const target = config.commit_target;
      const deliver = target?.type === 'http' ? httpDelivery(target, ref, records) : undefined;
      await beforeCommitFault(ref); // drill-only (SLUICE_DRILL_FAULT), a no-op otherwise
      const conflictingDuplicates = config.conflicting_duplicates ?? 'record';
      const counts = await withHeartbeat(() =>
        commitChunk(
          db,
          { batchId: ref.batchId, profile: ref.profile, chunkNo: ref.chunkNo, commit, held, conflictingDuplicates },
          deliver,
        ),
      );
      await afterCommitFault(ref); // drill-only, see src/activities/drill-faults.ts
      cache.delete(keyOf(ref));
      // The attempt feeds the batch's circuit breaker: a commit that needed retries counts its failed attempts.
      return { ...counts, attempt: Context.current().info.attempt };
    }),

    /**
     * A chunk that cannot be read at all (a permanent parse failure) is not dropped: every record in its range is
     * held for review with reason `parse_error` and the located error, so the batch accounts for each one.
     */
    quarantineChunk: async (input: { ref: ChunkRef; error: string }): Promise<ChunkCommitResult> => {
      const { ref, error } = input;
      try {
        const chunk = await getChunk(db, ref.batchId, ref.chunkNo);
        if (!chunk) throw new Error(`chunk ${ref.chunkNo} of batch ${ref.batchId} is not planned`);
        const { fileName } = await batchLayout(ref.batchId);
        const held: HeldRecord[] = [];
        for (let i = 0; i < chunk.recordCount; i++) {
          held.push({
            recordNo: chunk.firstRecord + i,
            reasonCode: 'parse_error',
            issues: [{ path: '', code: 'parse_error', message: error }],
            source: {},
            location: { file: fileName, byteOffset: chunk.byteStart },
          });
        }
        cache.delete(keyOf(ref));
        return await withHeartbeat(() =>
          commitChunk(db, { batchId: ref.batchId, profile: ref.profile, chunkNo: ref.chunkNo, commit: [], held }),
        );
      } catch (err) {
        throw toFailure(err, `batch ${ref.batchId} chunk ${ref.chunkNo}: quarantine`);
      }
    },
  };
}
