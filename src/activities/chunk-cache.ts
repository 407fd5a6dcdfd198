/**
 * In-process hand-off of a chunk's records between its stages. Stages that run in this worker find the previous
 * stage's output here; on a miss (another worker, a restart, an eviction) they recompute it from the blob, which is
 * deterministic. Bounded by the number of chunks held, so memory stays flat however large the batch.
 */
import type { SourceRecord, ValidationOutcome, Classification } from '../profiles/types.ts';

export interface ChunkState {
  source?: SourceRecord[];
  validated?: ValidationOutcome<unknown>[];
  classified?: (Classification | null)[];
}

export class ChunkCache {
  private readonly entries = new Map<string, ChunkState>();

  constructor(private readonly maxChunks: number) {}

  get(key: string): ChunkState {
    let state = this.entries.get(key);
    if (state) {
      // refresh recency: Map iteration order is insertion order
      this.entries.delete(key);
    } else {
      state = {};
      while (this.entries.size >= this.maxChunks) {
        const oldest = this.entries.keys().next().value as string;
        this.entries.delete(oldest);
      }
    }
    this.entries.set(key, state);
    return state;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
