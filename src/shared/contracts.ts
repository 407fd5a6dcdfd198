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
  /** Stops dispatching chunks while commits fail too often (seed 001); defaults apply when absent. */
  circuit_breaker?: CircuitBreakerConfig;
  /**
   * Held records tolerated per reason code, in percent of the batch's records (`*`: all reasons together). Above
   * one, the batch stops dispatching, lets in-flight chunks finish and ends `stopped` with the reason. Absent: no
   * limit, every held record waits for review.
   */
  tolerated_failures?: Record<string, number>;
  /**
   * A record whose idempotency key the ledger holds already, from another record, with other content: `record`
   * (default when absent) counts it a duplicate whose disposition keeps the differing fields and its fields as read
   * (reason `conflicting_duplicate`); `hold` holds it for review with that reason instead.
   */
  conflicting_duplicates?: 'record' | 'hold';
}

/**
 * The batch workflow's circuit breaker. Each finished chunk is a sample of its commit attempts: a commit that
 * succeeded on attempt n counts n - 1 failures and one success, a chunk that failed counts its attempts as failures.
 * When the failures over the last `window_seconds` exceed `failure_rate` of at least `min_attempts` attempts, the
 * breaker opens: no new chunks, in-flight ones drain, and after `cooldown_seconds` one chunk probes; a clean probe
 * closes the breaker, a failed one waits again (the cooldown doubles, up to `max_cooldown_seconds`).
 */
export interface CircuitBreakerConfig {
  enabled: boolean;
  failure_rate: number;
  window_seconds: number;
  min_attempts: number;
  cooldown_seconds: number;
  max_cooldown_seconds: number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerConfig = {
  enabled: true,
  failure_rate: 0.15,
  window_seconds: 300,
  min_attempts: 20,
  cooldown_seconds: 60,
  max_cooldown_seconds: 600,
};

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

export type BatchStatus =
  'planning' | 'running' | 'paused' | 'circuit_open' | 'awaiting_review' | 'completed' | 'stopped' | 'failed';

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
  /** Why a stopped batch stopped: the tolerated failure threshold it crossed (absent otherwise). */
  stopReason?: string;
  /**
   * Records of chunks never dispatched because the batch stopped (0 otherwise); for a stopped batch
   * `records = committed + duplicates + rejected + pendingReview + notProcessed`.
   */
  notProcessed?: number;
  /**
   * SHA-256 over the batch's committed ledger rows in record order (src/store/ledger.ts), once the batch has
   * completed: for a file whose business keys are unique, the same input bytes and decisions always give the same
   * hash (with repeated keys, which record of a key is committed depends on which chunk commits first);
   * `sluice audit` recomputes it.
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
  /** The circuit breaker's view (absent in batches started before it existed). */
  circuit?: CircuitView;
  stopReason?: string | null;
}

export interface CircuitView {
  state: 'closed' | 'open' | 'probing';
  /** Commit attempts and failures within the window. */
  attempts: number;
  failures: number;
  /** Times the breaker has opened in this batch. */
  opened: number;
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
  /** Held records of the chunk per reason code (absent in results of older versions). */
  heldByReason?: Record<string, number>;
  /** The attempt on which the chunk's commit succeeded (absent in results of older versions: 1). */
  commitAttempt?: number;
}

/** What the commit activities return: the chunk's counts, its held records per reason, and the attempt. */
export interface ChunkCommitResult extends RecordCounts {
  heldByReason?: Record<string, number>;
  attempt?: number;
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
