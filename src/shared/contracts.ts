/**
 * Plain-JSON shapes that cross the workflow boundary (workflow inputs, activity inputs and results, queries).
 * Workflow-safe: types and pure helpers only. Everything here stays a few hundred bytes: records never travel
 * through workflow history (claim check), only references, counts and digests.
 */

/** Retry policy of one stage, in seed 000's `batch_config.retry_policy` shape. */
export interface StageRetryPolicy {
  max_attempts: number;
  backoff_multiplier: number;
  initial_interval_seconds: number;
  max_interval_seconds: number;
}

export interface StagePolicy {
  /** Start-to-close limit of one attempt. */
  timeout_seconds: number;
  retry_policy: StageRetryPolicy;
}

export const STAGES = ['plan', 'parse', 'validate', 'classify', 'commit', 'review'] as const;
export type Stage = (typeof STAGES)[number];

/** The validated batch configuration (see src/config/batch-config.ts for the YAML schema and defaults). */
export interface BatchConfig {
  /** Line items (records) per chunk at most; whole documents only. */
  max_chunk_size: number;
  /** Bytes of input per chunk at most, in MiB. */
  max_payload_mb: number;
  /** Chunk child workflows in flight at once. */
  max_concurrent_chunks: number;
  /** How long held records wait for a decision before they are rejected with `review_timeout`, in seconds. */
  review_deadline_seconds: number;
  /** One policy per stage, each with its own timeout and retries. */
  stages: Record<Stage, StagePolicy>;
  /** How to read the input (format, encoding, delimiter, sheet); detected from the file when absent. */
  input?: { format?: string; encoding?: 'utf-8' | 'windows-1252'; delimiter?: string; sheet?: string };
  /** Profile-specific settings (tolerances, locale), checked by the profile's schema at submit time. */
  profile_options?: Record<string, unknown>;
  /** Seed 000's format routing thresholds. */
  routing_rules?: Record<string, number | boolean>;
  /** Where committed records go: sluice's ledger (default), or also an HTTP API that receives each chunk. */
  commit_target?: CommitTarget;
  /**
   * Task queues of the heavy stages: `classify` set means classification runs as a regular activity there (the
   * compute-heavy path) instead of a local activity; `commit` routes commits to a queue whose workers rate-limit.
   */
  task_queues?: { classify?: string; commit?: string };
}

export type CommitTarget =
  { type: 'ledger' } | { type: 'http'; url: string; timeout_seconds: number; headers?: Record<string, string> };

/** What the client hands to the batch workflow. */
export interface BatchInput {
  batchId: string;
  profile: string;
  /** SHA-256 of the stored input (the blob's address). */
  sha256: string;
  size: number;
  fileName: string;
  config: BatchConfig;
  /** ISO time the client submitted the batch. */
  submittedAt: string;
}

/** Counts of record outcomes. `committed` includes records committed after approval. */
export interface RecordCounts {
  records: number;
  committed: number;
  duplicates: number;
  /** Records ever held for review (pending, approved, rejected, or later found duplicate). */
  quarantined: number;
  approved: number;
  rejected: number;
  pendingReview: number;
}

export const zeroCounts = (): RecordCounts => ({
  records: 0,
  committed: 0,
  duplicates: 0,
  quarantined: 0,
  approved: 0,
  rejected: 0,
  pendingReview: 0,
});

export const addCounts = (a: RecordCounts, b: RecordCounts): RecordCounts => ({
  records: a.records + b.records,
  committed: a.committed + b.committed,
  duplicates: a.duplicates + b.duplicates,
  quarantined: a.quarantined + b.quarantined,
  approved: a.approved + b.approved,
  rejected: a.rejected + b.rejected,
  pendingReview: a.pendingReview + b.pendingReview,
});

export type BatchStatus = 'planning' | 'running' | 'paused' | 'awaiting_review' | 'completed' | 'failed';

/** The batch report: the `--json` result of `submit --wait` and `status`. */
export interface BatchReport extends RecordCounts {
  batchId: string;
  workflowId: string;
  profile: string;
  status: BatchStatus;
  sha256: string;
  chunks: number;
  startedAt: string | null;
  finishedAt: string | null;
  /** Why a failed batch failed (absent otherwise). */
  error?: string;
  /**
   * SHA-256 over the batch's committed ledger rows in record order (src/store/ledger.ts), once the batch has
   * completed: the same input bytes and decisions always give the same hash; `sluice audit` recomputes it.
   */
  ledgerHash?: string;
}

/** Live view answered by the `progress` query. */
export interface BatchProgress {
  status: BatchStatus;
  chunks: number;
  chunksDone: number;
  chunksInFlight: number;
  /** Records found by planning (0 until the plan is done). */
  plannedRecords: number;
  /** Outcomes so far: `records` counts records that have reached a disposition. */
  counts: RecordCounts;
  /** Decisions rejected as malformed, kept for the operator (most recent last, at most 20). */
  rejectedDecisions: RejectedDecision[];
  reviewDeadline: string | null;
}

export interface RejectedDecision {
  decisionId: string | null;
  error: string;
}

/** Result of planning a batch: the plan itself is stored in Postgres, the workflow keeps only the totals. */
export interface PlanResult {
  chunks: number;
  records: number;
}

export interface ChunkInput {
  batchId: string;
  profile: string;
  sha256: string;
  chunkNo: number;
  config: BatchConfig;
}

/** A reference to a chunk's stage output, handed from stage to stage (kept small; the records stay in the worker). */
export interface StageRef {
  batchId: string;
  profile: string;
  sha256: string;
  chunkNo: number;
  records: number;
}

export interface ChunkResult {
  chunkNo: number;
  counts: RecordCounts;
}

/** Review decision payload of the `review` signal and update (DESIGN.md public contract). */
export interface ReviewDecision {
  decisionId: string;
  records?: number[];
  reasonCode?: string;
  /** Every held record with this error signature (e.g. `quantity:not_integer`); see src/shared/error-signature.ts. */
  errorSignature?: string;
  all?: boolean;
  action: 'approve' | 'reject' | 'amend';
  patch?: Record<string, unknown>;
  reviewer: string;
  note?: string;
}

export interface ReviewOutcome {
  decisionId: string;
  /** False when this decisionId had been applied before: nothing changed. */
  applied: boolean;
  selected: number;
  approved: number;
  rejected: number;
  duplicates: number;
  /** Amended records that still fail validation and stay held. */
  stillHeld: number;
  counts: RecordCounts;
}
