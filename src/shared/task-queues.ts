/** Task queue names shared by workers and clients. */
export const TASK_QUEUE = {
  /** Batch and chunk workflows, and every activity unless a profile routes one elsewhere. */
  ingest: 'sluice-ingest',
  /** Compute-heavy classification (rebate accruals), so it cannot starve the fast path. */
  compute: 'sluice-compute',
  /** Commits, on workers that rate-limit them to protect the ledger or a downstream API. */
  commit: 'sluice-commit',
} as const;

export const batchWorkflowId = (batchId: string): string => `sluice-batch-${batchId}`;
export const chunkWorkflowId = (batchWorkflowId: string, chunkNo: number): string =>
  `${batchWorkflowId}/chunk-${chunkNo}`;
