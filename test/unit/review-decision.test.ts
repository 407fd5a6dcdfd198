import { describe, expect, it } from 'vitest';
import { checkReviewDecision } from '../../src/shared/review-decision.ts';

const base = { decisionId: 'd-1', action: 'approve', reviewer: 'dana' };

describe('review decision checker', () => {
  it.each([
    [{ ...base, records: [3, 9] }],
    [{ ...base, reasonCode: 'quantity_outlier', note: 'ok' }],
    [{ ...base, all: true, action: 'reject' }],
    [{ ...base, records: [1], action: 'amend', patch: { location: 'CHEM-101', quantity: 3, notes: null } }],
  ])('accepts %j', (decision) => {
    const check = checkReviewDecision(decision);
    expect(check).toEqual({ ok: true, decision });
  });

  it('accepts the decision as a JSON string, as a UI dialog may send it', () => {
    const check = checkReviewDecision(JSON.stringify({ ...base, all: true }));
    expect(check.ok).toBe(true);
  });

  it.each([
    [null, 'must be a JSON object'],
    [[base], 'must be a JSON object'],
    ['{not json', 'not JSON'],
    [{ ...base }, 'exactly one of records, reasonCode, errorSignature or all'],
    [{ ...base, records: [1], all: true }, 'exactly one of'],
    [{ ...base, records: [] }, 'non-empty array'],
    [{ ...base, records: [0] }, 'positive integer'],
    [{ ...base, records: ['1'] }, 'positive integer'],
    [{ ...base, reasonCode: 'DROP TABLE' }, 'reasonCode'],
    [{ ...base, all: false }, 'all must be true'],
    [{ ...base, all: true, action: 'delete' }, 'action must be one of'],
    [{ ...base, all: true, reviewer: '' }, 'reviewer'],
    [{ ...base, all: true, decisionId: 7 }, 'decisionId'],
    [{ ...base, all: true, action: 'amend' }, 'non-empty patch'],
    [{ ...base, all: true, action: 'amend', patch: { a: { nested: 1 } } }, 'patch.a'],
    [{ ...base, all: true, patch: { a: 1 } }, 'only allowed with action "amend"'],
    [{ ...base, all: true, extra: 1 }, 'unknown field "extra"'],
    [{ ...base, all: true, note: 'x'.repeat(2001) }, 'note'],
  ])('refuses %j', (decision, message) => {
    const check = checkReviewDecision(decision);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.error).toContain(message);
  });
});
