/**
 * Checks a review decision's shape. Runs inside the workflow (the signal handler and the update's synchronous
 * validator), so it is hand-written, pure and dependency-free; the CLI uses it too, so both reject the same things.
 */
import type { ReviewDecision } from './contracts.ts';

export type DecisionCheck = { ok: true; decision: ReviewDecision } | { ok: false; error: string };

const ACTIONS = ['approve', 'reject', 'amend'] as const;
const KEYS = new Set([
  'decisionId',
  'records',
  'reasonCode',
  'errorSignature',
  'all',
  'action',
  'patch',
  'reviewer',
  'note',
]);
const MAX_RECORDS = 10_000;
const MAX_TEXT = 2_000;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkReviewDecision(input: unknown): DecisionCheck {
  const fail = (error: string): DecisionCheck => ({ ok: false, error });
  // The Web UI's signal dialog sends what is typed; a JSON string holding the object is accepted too.
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return fail('decision is a string that is not JSON');
    }
  }
  if (!isPlainObject(value)) return fail('decision must be a JSON object');
  for (const key of Object.keys(value)) if (!KEYS.has(key)) return fail(`unknown field "${key}"`);

  const { decisionId, records, reasonCode, errorSignature, all, action, patch, reviewer, note } = value;
  if (typeof decisionId !== 'string' || decisionId.trim() === '' || decisionId.length > 200) {
    return fail('decisionId must be a non-empty string of at most 200 characters');
  }
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    return fail(`action must be one of ${ACTIONS.join(', ')}`);
  }
  if (typeof reviewer !== 'string' || reviewer.trim() === '' || reviewer.length > 200) {
    return fail('reviewer must be a non-empty string');
  }
  if (note !== undefined && (typeof note !== 'string' || note.length > MAX_TEXT)) {
    return fail(`note must be a string of at most ${MAX_TEXT} characters`);
  }

  const selectors = [records, reasonCode, errorSignature, all].filter((s) => s !== undefined).length;
  if (selectors !== 1) return fail('give exactly one of records, reasonCode, errorSignature or all');
  if (records !== undefined) {
    if (!Array.isArray(records) || records.length === 0 || records.length > MAX_RECORDS) {
      return fail(`records must be a non-empty array of at most ${MAX_RECORDS} record numbers`);
    }
    if (!records.every((n) => Number.isSafeInteger(n) && (n as number) > 0)) {
      return fail('records must hold positive integer record numbers');
    }
  }
  if (reasonCode !== undefined && (typeof reasonCode !== 'string' || !/^[a-z0-9_]{1,64}$/.test(reasonCode))) {
    return fail('reasonCode must be a reason code such as "invalid_grant_code"');
  }
  if (
    errorSignature !== undefined &&
    (typeof errorSignature !== 'string' || !/^[A-Za-z0-9_.[\]:+-]{1,500}$/.test(errorSignature))
  ) {
    return fail('errorSignature must be a signature such as "quantity:not_integer"');
  }
  if (all !== undefined && all !== true) return fail('all must be true when given');

  if (action === 'amend') {
    if (!isPlainObject(patch) || Object.keys(patch).length === 0) {
      return fail('amend needs a non-empty patch object of field: value');
    }
    for (const [field, v] of Object.entries(patch)) {
      if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        return fail(`patch.${field} must be a string, number, boolean or null`);
      }
    }
  } else if (patch !== undefined) {
    return fail('patch is only allowed with action "amend"');
  }

  const decision: ReviewDecision = { decisionId, action: action as ReviewDecision['action'], reviewer };
  if (records !== undefined) decision.records = records as number[];
  if (reasonCode !== undefined) decision.reasonCode = reasonCode as string;
  if (errorSignature !== undefined) decision.errorSignature = errorSignature as string;
  if (all === true) decision.all = true;
  if (patch !== undefined) decision.patch = patch as Record<string, unknown>;
  if (note !== undefined) decision.note = note as string;
  return { ok: true, decision };
}
