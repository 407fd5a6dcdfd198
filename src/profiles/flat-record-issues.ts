/**
 * Field issues of a flat record (CSV or spreadsheet row: column -> text) from a zod schema's failure, as reviewers
 * read them: an unknown column, a missing one, a value of the wrong type, or the schema's own custom issues, whose
 * `params.code` is the issue code.
 */
import type { z } from 'zod';
import type { FieldIssue, SourceFields } from './types.ts';

export function flatRecordIssues(error: z.ZodError, fields: SourceFields): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const zi of error.issues) {
    if (zi.code === 'unrecognized_keys') {
      for (const key of zi.keys) {
        issues.push({ path: key, code: 'unknown_column', message: `unknown column ${key}`, value: fields[key] });
      }
      continue;
    }
    const path = String(zi.path[0] ?? '');
    const value = Object.hasOwn(fields, path) ? fields[path] : undefined;
    // Besides the schema's custom issues, zod reports only type errors: an absent column, or a value of the wrong type.
    const code = zi.code === 'custom' ? String(zi.params?.code) : value === undefined ? 'missing' : 'invalid_type';
    const message = code === 'missing' ? `${path} is missing` : zi.message;
    issues.push(value === undefined ? { path, code, message } : { path, code, message, value });
  }
  return issues;
}
