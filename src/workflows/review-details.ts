/**
 * What the Web UI shows as the batch's current details (Markdown), and the decision it suggests pasting into the
 * "Send a Signal" dialog. Pure and workflow-safe.
 */
import type { RecordCounts } from '../shared/contracts.ts';
import type { HeldRecordView, ReviewGroup } from './messages.ts';

export interface ReviewSnapshot {
  groups: ReviewGroup[];
  records: HeldRecordView[];
}

/**
 * Approve a business-rule hold if there is one (approval commits valid records as they are); otherwise reject one
 * record by number, since invalid records must be amended or rejected.
 */
export function exampleDecision(groups: ReviewGroup[]): Record<string, unknown> | null {
  const approvable = groups.find((g) => g.approvable);
  if (approvable) {
    return {
      decisionId: `approve-${approvable.reasonCode}-1`,
      reasonCode: approvable.reasonCode,
      action: 'approve',
      reviewer: 'your-name',
      note: 'checked against the source document',
    };
  }
  const first = groups[0];
  if (!first) return null;
  return {
    decisionId: `reject-${first.firstRecords[0]}-1`,
    records: [first.firstRecords[0]],
    action: 'reject',
    reviewer: 'your-name',
    note: 'not in the source document',
  };
}

const cell = (text: string): string => text.replace(/[`\n]/g, ' ');

export function reviewDetailsMarkdown(
  batchId: string,
  counts: RecordCounts,
  deadline: string | null,
  snapshot: ReviewSnapshot,
): string {
  const groups = snapshot.groups ?? [];
  const records = snapshot.records ?? [];
  if (counts.pendingReview === 0) {
    return [
      `## Nothing held for review`,
      `${counts.records} records: ${counts.committed} committed, ${counts.duplicates} duplicates, ` +
        `${counts.approved} approved, ${counts.rejected} rejected.`,
    ].join('\n\n');
  }
  const lines = [
    `## Held for review: ${counts.pendingReview} of ${counts.records} records`,
    `Committed ${counts.committed}, duplicates ${counts.duplicates}, approved ${counts.approved}, rejected ` +
      `${counts.rejected}. Undecided records are rejected as \`review_timeout\` at ${deadline ?? 'the deadline'}.`,
    '',
    '### Held, by reason and error signature',
    ...groups.map(
      (g) =>
        `- **${g.count}** \`${g.reasonCode}\` with \`${cell(g.errorSignature)}\`: ` +
        `${g.approvable ? 'approve commits them' : 'amend or reject them'} (e.g. records ${g.firstRecords.join(', ')})`,
    ),
    '',
    '### First held records',
    ...records.map((r) => {
      const issues = r.issues
        .map((i) => `${i.path || 'record'}: ${i.message}${i.value === undefined ? '' : ` (was \`${cell(i.value)}\`)`}`)
        .join('; ');
      return `- record ${r.recordNo}${r.line ? ` (line ${r.line})` : ''}, \`${r.reasonCode}\`: ${cell(issues)}`;
    }),
    '',
    '### Decide',
    'Send the signal **review** with a JSON decision, for example:',
    '```json',
    JSON.stringify(exampleDecision(groups)),
    '```',
    'Select with one of `records` (numbers), `reasonCode`, `errorSignature` or `all`; `action` is `approve`, ' +
      '`reject` or `amend` (with a `patch` of field values); give `reviewer` and a `note`. ' +
      `The full list: \`sluice review show ${batchId}\`.`,
  ];
  return lines.join('\n');
}
