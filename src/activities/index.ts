/**
 * All activities, built once per worker from their dependencies. Workflows import only the type
 * `SluiceActivities` and call these through proxyActivities / proxyLocalActivities.
 */
import type { Db } from '../store/db.ts';
import type { BlobStore } from '../store/blobs.ts';
import type { Profile } from '../profiles/types.ts';
import { ChunkCache } from './chunk-cache.ts';
import { createPlanActivities } from './plan.ts';
import { createChunkStageActivities } from './chunk-stages.ts';
import { createReviewActivities } from './review.ts';

export interface ActivityDeps {
  db: Db;
  blobs: BlobStore;
  getProfile: (id: string) => Profile;
  /** Chunks whose records a worker keeps between stages (default 64). */
  cacheChunks?: number;
}

export function createActivities(deps: ActivityDeps) {
  const cache = new ChunkCache(deps.cacheChunks ?? 64);
  return {
    ...createPlanActivities(deps),
    ...createChunkStageActivities(deps, cache),
    ...createReviewActivities(deps),
  };
}

export type SluiceActivities = ReturnType<typeof createActivities>;
