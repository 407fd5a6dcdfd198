/**
 * A conflicting duplicate: a record whose idempotency key the ledger holds already, from another record (another
 * batch, or another record of this batch), with other content. The record stays a duplicate (or is held for review,
 * with `conflicting_duplicates: hold`), and its disposition keeps one issue per top-level field that differs.
 * Pure helpers: no database here (src/store/commit.ts finds the conflicts).
 */
import type { FieldIssue } from '../profiles/types.ts';

export const CONFLICTING_DUPLICATE = 'conflicting_duplicate';
export const CONFLICTS_WITH_LEDGER = 'conflicts_with_ledger';

/** One top-level field whose value differs; `field` is `''` when the payloads are not both objects. */
export interface FieldDifference {
  field: string;
  ledger: unknown;
  value: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Stable JSON: object keys sorted, so equal values compare equal whatever their key order (as jsonb does). */
function canonical(value: unknown): string | undefined {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v) ?? 'null').join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The top-level fields whose values differ between the ledger's payload and this record's, ledger's fields first. */
export function payloadDifferences(ledger: unknown, mine: unknown): FieldDifference[] {
  if (!isObject(ledger) || !isObject(mine)) {
    return canonical(ledger) === canonical(mine) ? [] : [{ field: '', ledger, value: mine }];
  }
  const fields = [...new Set([...Object.keys(ledger), ...Object.keys(mine)])];
  return fields
    .filter((f) => canonical(ledger[f]) !== canonical(mine[f]))
    .map((f) => ({ field: f, ledger: ledger[f], value: mine[f] }));
}

const MAX_VALUE = 80;

/** A value as an issue message shows it: JSON, cut to 80 characters; `nothing` for an absent field. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/**
 * The issues of a conflicting duplicate: one per differing field, naming the ledger row's batch and record. A jsonb
 * difference that no top-level field shows (it cannot happen with JSON payloads) still gives one issue.
 */
export function conflictIssues(
  ledger: unknown,
  mine: unknown,
  owner: { batchId: string; recordNo: number },
): FieldIssue[] {
  const diffs = payloadDifferences(ledger, mine);
  const from = `from batch ${owner.batchId} record ${owner.recordNo}`;
  if (diffs.length === 0) {
    return [{ path: '', code: CONFLICTS_WITH_LEDGER, message: `the ledger holds other content ${from}` }];
  }
  return diffs.map((d) => ({
    path: d.field,
    code: CONFLICTS_WITH_LEDGER,
    // The path names the field; `review show` prints it before the message.
    message: `the ledger holds ${showValue(d.ledger)} ${from}; this record has ${showValue(d.value)}`,
  }));
}
