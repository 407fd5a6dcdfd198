/** Signals, queries and updates of the batch workflow (names are public contract: DESIGN.md). */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchProgress, ReviewOutcome } from '../shared/contracts.ts';
import type { HeldRecordView, ReviewGroup } from '../store/review.ts';

export type { HeldRecordView, ReviewGroup };

export interface PendingReviewView {
  pendingReview: number;
  reviewDeadline: string | null;
  /** Held records grouped by reason code and error signature (largest groups first, at most 20). */
  groups: ReviewGroup[];
  /** The first held records with their issues (at most 10; `sluice review show` lists them all). */
  records: HeldRecordView[];
  /** How to see every held record with its field-level issues. */
  details: string;
  /** A decision to paste into the Web UI's "Send a Signal" dialog (signal name: review). */
  example: Record<string, unknown> | null;
}

/** A review decision; the payload is checked in the workflow and a malformed one is recorded, not applied. */
export const reviewSignal = defineSignal<[unknown]>('review');
/** The same decision for programmatic callers: a malformed payload is refused by the validator before it is accepted. */
export const reviewUpdate = defineUpdate<ReviewOutcome, [unknown]>('review');
export const progressQuery = defineQuery<BatchProgress>('progress');
/** Operator controls: stop dispatching new chunks (in-flight ones finish), and start again. */
export const pauseSignal = defineSignal<[{ operator?: string; reason?: string }?]>('pause');
export const resumeSignal = defineSignal<[{ operator?: string }?]>('resume');
export const pendingReviewQuery = defineQuery<PendingReviewView>('pendingReview');
