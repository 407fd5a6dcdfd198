/**
 * Review: applying decisions, expiring the review, recording rejected decisions, and the small summary that the
 * workflow keeps for its `pendingReview` query.
 */
import type { RecordCounts, ReviewDecision, ReviewOutcome } from '../shared/contracts.ts';
import { profileContext } from '../profiles/context.ts';
import type { SourceFields } from '../profiles/types.ts';
import { getBatch } from '../store/batches.ts';
import type { CommitCandidate } from '../store/commit.ts';
import type { Tx } from '../store/db.ts';
import type { Reassessment } from '../store/review.ts';
import { withHeartbeat } from './heartbeat.ts';
import { deliverOverHttp } from './http-delivery.ts';
import {
  applyDecision,
  expirePending,
  heldRecordsPage,
  recordRejectedDecision,
  reviewGroups,
} from '../store/review.ts';
import type { HeldRecordView, ReviewGroup } from '../store/review.ts';
import type { ActivityDeps } from './index.ts';
import { toFailure } from './to-failure.ts';

export function createReviewActivities({ db, getProfile }: ActivityDeps) {
  return {
    async applyReviewDecision(input: {
      batchId: string;
      profile: string;
      decision: ReviewDecision;
    }): Promise<ReviewOutcome> {
      const profile = getProfile(input.profile);
      const batch = await getBatch(db, input.batchId);
      const context = profileContext(batch?.config);
      const reassess = (source: SourceFields): Reassessment => {
        const v = profile.validate(source, context);
        if (!v.ok) return v;
        return {
          ok: true,
          candidate: {
            idempotencyKey: profile.idempotencyKey(v.record),
            businessKey: profile.businessKey(v.record),
            payload: v.record,
          },
        };
      };
      try {
        const target = batch?.config.commit_target;
        const deliver =
          target?.type === 'http'
            ? (tx: Tx, chunkNo: number, candidates: CommitCandidate[]) =>
                deliverOverHttp(tx, target, { batchId: input.batchId, chunkNo, profile: input.profile }, candidates)
            : undefined;
        return await withHeartbeat(() =>
          applyDecision(db, input.batchId, input.profile, input.decision, reassess, deliver),
        );
      } catch (err) {
        throw toFailure(err, `batch ${input.batchId}: review decision ${input.decision.decisionId}`);
      }
    },

    async expireReview(input: { batchId: string }): Promise<RecordCounts> {
      return expirePending(db, input.batchId);
    },

    async recordRejectedDecision(input: { batchId: string; payload: unknown; error: string }): Promise<void> {
      // Store at most 4 KB of what was sent: enough to see the mistake, never a way to flood the audit log.
      const text = JSON.stringify(input.payload) ?? 'undefined';
      const payload = text.length > 4096 ? { truncated: text.slice(0, 4096) } : input.payload;
      await recordRejectedDecision(db, input.batchId, payload, input.error);
    },

    /** What the workflow keeps for its pendingReview query and UI details: at most 20 groups and 10 records (< 8 KB). */
    async reviewSummary(input: { batchId: string }): Promise<{ groups: ReviewGroup[]; records: HeldRecordView[] }> {
      return {
        groups: await reviewGroups(db, input.batchId, 20),
        records: await heldRecordsPage(db, input.batchId, 10),
      };
    },
  };
}
