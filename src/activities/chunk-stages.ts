/**
 * The four stages of a chunk: parse -> validate -> classify -> commit. Each takes a small reference to the chunk and
 * returns counts; the records pass between stages through the worker's ChunkCache, and a stage that finds the cache
 * empty recomputes the earlier stages from the blob (they are pure functions of the input bytes).
 */
import type { RecordCounts, StageRef } from '../shared/contracts.ts';
import type { Classification, InputLayout, SourceRecord, ValidationOutcome } from '../profiles/types.ts';
import { getBatch, getChunk } from '../store/batches.ts';
import type { HeldRecord } from '../store/commit.ts';
import { commitChunk } from '../store/commit.ts';
import type { ChunkCache, ChunkState } from './chunk-cache.ts';
import { withHeartbeat } from './heartbeat.ts';
import { splitForCommit } from './split-for-commit.ts';
import type { ActivityDeps } from './index.ts';
import { toFailure } from './to-failure.ts';

export type ChunkRef = Omit<StageRef, 'records'>;

export function createChunkStageActivities({ db, blobs, getProfile }: ActivityDeps, cache: ChunkCache) {
  const layouts = new Map<string, { layout: InputLayout; fileName: string }>();
  const keyOf = (ref: ChunkRef) => `${ref.batchId}/${ref.chunkNo}`;

  async function batchLayout(batchId: string): Promise<{ layout: InputLayout; fileName: string }> {
    const known = layouts.get(batchId);
    if (known) return known;
    const batch = await getBatch(db, batchId);
    if (!batch?.layout) throw new Error(`batch ${batchId} is not planned yet`);
    const entry = { layout: batch.layout, fileName: batch.fileName };
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
    state.validated = (await source(ref, state)).map((r) => profile.validate(r.fields));
    return state.validated;
  }

  async function classified(ref: ChunkRef, state: ChunkState): Promise<(Classification | null)[]> {
    if (state.classified) return state.classified;
    const profile = getProfile(ref.profile);
    state.classified = (await validated(ref, state)).map((v) => (v.ok ? profile.classify(v.record) : null));
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
      const labels = await classified(ref, state);
      return { held: labels.filter((c) => c?.hold === true).length };
    }),

    commitChunk: stage('commit', async (ref, state): Promise<RecordCounts> => {
      const profile = getProfile(ref.profile);
      const records = await source(ref, state);
      const outcomes = await validated(ref, state);
      const labels = await classified(ref, state);
      const { commit, held } = splitForCommit(profile, records, outcomes, labels);
      const counts = await withHeartbeat(() =>
        commitChunk(db, { batchId: ref.batchId, profile: ref.profile, chunkNo: ref.chunkNo, commit, held }),
      );
      cache.delete(keyOf(ref));
      return counts;
    }),

    /**
     * A chunk that cannot be read at all (a permanent parse failure) is not dropped: every record in its range is
     * held for review with reason `parse_error` and the located error, so the batch accounts for each one.
     */
    quarantineChunk: async (input: { ref: ChunkRef; error: string }): Promise<RecordCounts> => {
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
