/**
 * Text a record must not carry into the ledger as if it were data, whatever format it came from:
 * - U+0000 (NUL): binary junk or a truncated C string, never business text; PostgreSQL's text and jsonb cannot hold
 *   it at all, so a record carrying one would fail its chunk's commit instead of being held.
 * - A lone UTF-16 surrogate (a JSON `"\ud800"` escape with no partner): not a character, and refused by jsonb too.
 * - U+FFFD (the replacement character): what decoding puts where the input had bytes that are not valid UTF-8 (a
 *   windows-1252 line in a UTF-8 file, a truncated sequence), so the characters the sender meant are lost.
 *
 * `checkText` finds all three in a record's fields at any depth, replaces NULs and lone surrogates with U+FFFD (in keys
 * too), and returns one field issue per string that held any, so that the record is held as a `parse_error` naming the
 * field.
 */
import type { FieldIssue } from '../profiles/types.ts';

const NUL = '\u0000';
const REPLACEMENT = '\ufffd';
/** A high surrogate not followed by a low one, or a low one not preceded by a high one (code units: no `u` flag). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** Whether `text` holds a NUL, a lone surrogate or a replacement character: a quick test before walking a record. */
export function hasUnreadableText(text: string): boolean {
  return text.includes(NUL) || text.includes(REPLACEMENT) || LONE_SURROGATE.test(text);
}

/** `text` with NULs and lone surrogates replaced by U+FFFD, and what was replaced (if anything). */
function storable(text: string): { text: string; problem?: 'nul_character' | 'lone_surrogate' } {
  const nul = text.includes(NUL);
  const lone = LONE_SURROGATE.test(text);
  if (!nul && !lone) return { text };
  return {
    text: text.replaceAll(NUL, REPLACEMENT).replace(LONE_SURROGATES, REPLACEMENT),
    problem: nul ? 'nul_character' : 'lone_surrogate',
  };
}

const WHAT = {
  nul_character: 'a NUL character',
  lone_surrogate: 'a lone UTF-16 surrogate (a \\u escape of half a character)',
} as const;

/** The value with NULs and lone surrogates in its strings and keys replaced by U+FFFD, and the issues found. */
export function checkText<T>(value: T): { value: T; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      if (!hasUnreadableText(v)) return v;
      const { text, problem } = storable(v);
      const field = path === '' ? 'the record' : path;
      issues.push(
        problem !== undefined
          ? {
              path,
              code: problem,
              message: `${field} holds ${WHAT[problem]} (shown as U+FFFD), which is not text`,
              value: text,
            }
          : {
              path,
              code: 'invalid_utf8',
              message:
                `${field} holds U+FFFD in place of bytes that are not valid UTF-8 ` +
                '(is the file in another encoding, such as windows-1252?)',
              value: text,
            },
      );
      return text;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, `${path}[${i}]`));
    if (v !== null && typeof v === 'object') {
      // Object.fromEntries defines properties, so a `__proto__` key stays a key rather than setting the prototype.
      return Object.fromEntries(
        Object.entries(v).map(([key, item]) => {
          const { text: name, problem } = storable(key);
          const at = path === '' ? name : `${path}.${name}`;
          if (problem !== undefined) {
            issues.push({ path: at, code: problem, message: `the name of ${at} holds ${WHAT[problem]}` });
          }
          return [name, walk(item, at)];
        }),
      );
    }
    return v;
  };
  return { value: walk(value, '') as T, issues };
}
