/**
 * Sorts a chunk's records, once validated and classified, into those to commit and those to hold for review.
 * Shared by the commit stage and the benchmark's plain pipeline, so both run exactly the same code.
 */
import type { Classification, Profile, SourceRecord, ValidationOutcome } from '../profiles/types.ts';
import type { CommitCandidate, HeldRecord } from '../store/commit.ts';

export function splitForCommit(
  profile: Profile,
  records: SourceRecord[],
  validated: ValidationOutcome<unknown>[],
  classified: (Classification | null)[],
): { commit: CommitCandidate[]; held: HeldRecord[] } {
  const commit: CommitCandidate[] = [];
  const held: HeldRecord[] = [];
  records.forEach((rec, i) => {
    const v = validated[i]!;
    const c = classified[i];
    const base = { recordNo: rec.recordNo, source: rec.fields, location: rec.location };
    if (!v.ok) {
      held.push({ ...base, reasonCode: v.reasonCode, issues: v.issues });
      return;
    }
    const keys = { idempotencyKey: profile.idempotencyKey(v.record), businessKey: profile.businessKey(v.record) };
    if (c?.hold) held.push({ ...base, reasonCode: c.reasonCode, issues: c.issues, ...keys });
    else commit.push({ ...base, ...keys, payload: v.record });
  });
  return { commit, held };
}
