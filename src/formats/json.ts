/**
 * JSON and NDJSON, streaming and bounded: records are read one at a time, and no more than one record (up to
 * `maxRecordBytes`) plus one read buffer is held, however large the file.
 *
 * NDJSON is split on line feeds; each non-blank line is one record. A line that is not JSON is one bad record, not a
 * bad file: it is yielded as an item with an `error` (so it can be quarantined like any invalid record) and reading
 * goes on. Whole-file problems throw `InputError`: a line over the cap, or bytes that are not UTF-8.
 *
 * A JSON document is one value, so records are the elements of one array in it: the top-level array, the array
 * under `arrayPath` (`invoices` for `{"invoices": [...]}`), or by default the one array-valued property of a
 * top-level object. A byte-level scanner walks the document: outside the array it checks the grammar token by token
 * (so a malformed wrapper is an error, not a silent skip); inside it only tracks strings, escapes and bracket depth
 * to find where each element ends, and `JSON.parse` checks the element alone. The document is one value, so syntax
 * errors anywhere are `InputError`s; an element with a `__proto__` key is a bad record (an item with an `error`).
 *
 * Without `arrayPath`, an object's array is read as soon as it is found; a second array-valued property found later
 * makes the document ambiguous, and is an `InputError` after the first array's records (callers plan the whole input
 * before committing anything, so a late error still fails the batch as a whole).
 *
 * Values come straight from `JSON.parse` (numbers are JavaScript numbers), except numbers a double cannot hold as
 * written (9007199254740993, 1e400, 0.1000000000000000000001): those are kept as their text, a string, and the item
 * carries an `inexact_number` issue naming each one's path, so that the record is held rather than committed with a
 * silently rounded amount (`exactNumbers`). Keys named `__proto__` are refused everywhere (`parseJsonSafe`): merged
 * into another object later, they would change its prototype.
 */
import { createReadStream } from 'node:fs';
import { TextDecoder } from 'node:util';
import { InputError } from '../profiles/types.ts';
import type { FieldIssue } from '../profiles/types.ts';

interface JsonItemBase {
  /** 1-based number of the record in the file. */
  index: number;
  /** 1-based line of the record's first byte. */
  line: number;
  /** Byte offset of the record's first byte. */
  byteOffset: number;
  /** `line 12` for NDJSON; `$[11]` or `$.invoices[11]` for JSON. */
  position: string;
}

export interface JsonValueItem extends JsonItemBase {
  value: unknown;
  error?: undefined;
  /** One `inexact_number` issue per number kept as text because a double cannot hold it (see the module comment). */
  issues?: FieldIssue[];
}

/** A record that could not be read: its text is not JSON (NDJSON), or it has a forbidden key. */
export interface JsonErrorItem extends JsonItemBase {
  error: string;
  value?: undefined;
  issues?: undefined;
}

export type JsonItem = JsonValueItem | JsonErrorItem;

export interface NdjsonOptions {
  /** A line longer than this is an `InputError`. Default 16 MiB. */
  maxRecordBytes?: number;
}

export interface JsonArrayOptions {
  /**
   * Dotted path of object keys to the array of records, e.g. `invoices` or `data.invoices` (a leading `$.` is
   * allowed; `$` alone is the top-level array). Default: the top-level value if it is an array, else the one
   * array-valued property of the top-level object.
   */
  arrayPath?: string;
  /** An element longer than this is an `InputError`. Default 16 MiB. */
  maxRecordBytes?: number;
}

const DEFAULT_MAX_RECORD_BYTES = 16 << 20;
const READ_BUFFER_BYTES = 256 << 10;

/** A key `parseJsonSafe` refuses. */
export class ForbiddenKeyError extends Error {
  constructor(readonly key: string) {
    super(`object key ${JSON.stringify(key)} is not allowed`);
    this.name = 'ForbiddenKeyError';
  }
}

/**
 * `JSON.parse` that refuses `__proto__` keys at any depth (throws `ForbiddenKeyError`). `JSON.parse` itself makes
 * such a key an ordinary property, but code that later copies or merges the value (`Object.assign`, spread into a
 * prototype-bearing target, deep merge) would set the prototype of its target. Syntax errors throw `SyntaxError`.
 */
export function parseJsonSafe(text: string): unknown {
  // A reviver is costly; without the name spelled out, or a \u escape that could spell it, no key can be __proto__.
  if (!text.includes('__proto__') && !text.includes('\\u')) return JSON.parse(text);
  return JSON.parse(text, rejectForbiddenKeys);
}

/** Text that may hold a number a double cannot hold: 16 or more digits (and points) in a row, or an exponent. */
const MAYBE_INEXACT = /\d[\d.]{15}|\d[eE]/;
/** The tokens of valid JSON text that matter for paths and numbers; literals and whitespace are skipped. */
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[{}[\],:]/g;

type PathFrame = { array: true; index: number } | { array: false; key: string; expectKey: boolean };

/**
 * `value`, parsed from `text` (valid JSON), with every number that `JSON.parse` did not read as written replaced by
 * its text, and an `inexact_number` issue for each, at its path within the value (`lines[0].quantity`). A number is
 * read as written when the double it became has the same decimal value (`1.50` is 1.5, `1e3` is 1000); beyond
 * about 15 significant digits, past ±1.8e308 or below 5e-324 it is not.
 */
export function exactNumbers(text: string, value: unknown): { value: unknown; issues?: FieldIssue[] } {
  if (!MAYBE_INEXACT.test(text)) return { value };
  const issues: FieldIssue[] = [];
  const found: { start: number; text: string }[] = [];
  const stack: PathFrame[] = [];
  for (const m of text.matchAll(JSON_TOKEN)) {
    const token = m[0];
    const top = stack.at(-1);
    switch (token[0]) {
      case '{':
        stack.push({ array: false, key: '', expectKey: true });
        break;
      case '[':
        stack.push({ array: true, index: 0 });
        break;
      case '}':
      case ']':
        stack.pop();
        break;
      case ',':
        if (top?.array) top.index++;
        else if (top) top.expectKey = true;
        break;
      case ':':
        if (top && !top.array) top.expectKey = false;
        break;
      case '"':
        if (top && !top.array && top.expectKey) top.key = JSON.parse(token) as string;
        break;
      default: {
        const read = Number(token);
        if (Number.isFinite(read) && decimalValue(token) === decimalValue(String(read))) break;
        const path = stack.map((f, i) => (f.array ? `[${f.index}]` : i === 0 ? f.key : `.${f.key}`)).join('');
        found.push({ start: m.index, text: token });
        issues.push({
          path,
          code: 'inexact_number',
          message:
            `${path === '' ? 'the value' : path}: the number ${token} cannot be held exactly (it would read as ` +
            `${String(read)}); write it as a string, "${token}"`,
          value: token,
        });
      }
    }
  }
  if (found.length === 0) return { value };
  let exact = '';
  let from = 0;
  for (const f of found) {
    exact += `${text.slice(from, f.start)}"${f.text}"`;
    from = f.start + f.text.length;
  }
  return { value: parseJsonSafe(exact + text.slice(from)), issues };
}

/** A JSON number's decimal value as `<sign><digits>e<exponent>` with no leading or trailing zeros (`0` for zero). */
function decimalValue(number: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(number);
  if (m === null) return number;
  const fraction = m[3] ?? '';
  const digits = `${m[2]}${fraction}`.replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const exponent = Number(m[4] ?? 0) - fraction.length + (digits.length - significant.length);
  return `${m[1]}${significant}e${exponent}`;
}

function rejectForbiddenKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new ForbiddenKeyError(key);
  return value;
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Yields one item per non-blank line: `{ value }`, or `{ error }` for a line that is not JSON or has a `__proto__`
 * key. A UTF-8 byte order mark is skipped; CRLF line ends are fine.
 */
export async function* readNdjson(
  file: string,
  fileName: string,
  options: NdjsonOptions = {},
): AsyncGenerator<JsonItem> {
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!(max >= 1)) throw new RangeError(`maxRecordBytes must be positive, got ${max}`);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let base = 0;
  let lineStart = 0;
  let line = 1;
  let index = 0;
  const tooLong = (): InputError =>
    new InputError(`${fileName}: line ${line} (byte ${lineStart}): line is longer than ${max} bytes`, {
      file: fileName,
      line,
      byteOffset: lineStart,
    });

  /** The item for one line's bytes (without its line feed), or undefined for a blank line. */
  const item = (bytes: Buffer): JsonItem | undefined => {
    let start = 0;
    let end = bytes.length;
    if (line === 1 && bytes.subarray(0, 3).equals(UTF8_BOM)) start = 3;
    while (start < end && isSpace(bytes[start]!)) start++;
    while (end > start && isSpace(bytes[end - 1]!)) end--;
    if (start === end) return undefined;
    const byteOffset = lineStart + start;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(start, end));
    } catch {
      throw new InputError(`${fileName}: line ${line} (byte ${byteOffset}): not valid UTF-8`, {
        file: fileName,
        line,
        byteOffset,
      });
    }
    const at = { index: ++index, line, byteOffset, position: `line ${line}` };
    try {
      return { ...exactNumbers(text, parseJsonSafe(text)), ...at };
    } catch (err) {
      return { error: recordError(err), ...at };
    }
  };

  for await (const chunk of createReadStream(file, { highWaterMark: READ_BUFFER_BYTES }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, from)) {
      const piece = chunk.subarray(from, nl);
      if (pendingBytes + piece.length > max) throw tooLong();
      const result = item(pendingBytes === 0 ? piece : Buffer.concat([...pending, piece]));
      pending = [];
      pendingBytes = 0;
      from = nl + 1;
      if (result !== undefined) yield result;
      line++;
      lineStart = base + from;
    }
    if (from < chunk.length) {
      pending.push(chunk.subarray(from));
      pendingBytes += chunk.length - from;
      // Fail at once on a runaway line rather than reading the rest of the file into memory.
      if (pendingBytes > max) throw tooLong();
    }
    base += chunk.length;
  }
  if (pendingBytes > 0) {
    const result = item(Buffer.concat(pending));
    if (result !== undefined) yield result;
  }
}

function isSpace(b: number): boolean {
  return b === SPACE || b === TAB || b === CR || b === LF;
}

function recordError(err: unknown): string {
  if (err instanceof ForbiddenKeyError) return `${err.message} (it could change the prototype of objects)`;
  return `not valid JSON: ${(err as Error).message}`;
}

/**
 * Yields the elements of one array in a JSON document, in order (see the module comment for which array).
 * Throws `InputError` with line and byte for malformed JSON, an element over `maxRecordBytes`, no such array, or
 * bytes that are not UTF-8.
 */
export async function* readJsonArray(
  file: string,
  fileName: string,
  options: JsonArrayOptions = {},
): AsyncGenerator<JsonItem> {
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!(max >= 1)) throw new RangeError(`maxRecordBytes must be positive, got ${max}`);
  const scanner = new JsonArrayScanner(fileName, parseArrayPath(options.arrayPath), max);
  let base = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: READ_BUFFER_BYTES }) as AsyncIterable<Buffer>) {
    let i = 0;
    // The scanner stops after each element, so only one parsed element is held at a time.
    while (i < chunk.length) {
      i = scanner.scan(chunk, i, base);
      const item = scanner.take();
      if (item !== undefined) yield item;
    }
    scanner.endOfChunk(chunk);
    base += chunk.length;
  }
  scanner.finish(base);
  const last = scanner.take();
  if (last !== undefined) yield last;
  scanner.check();
}

function parseArrayPath(path: string | undefined): string[] | undefined {
  if (path === undefined) return undefined;
  const trimmed = path.startsWith('$.') ? path.slice(2) : path === '$' ? '' : path;
  if (trimmed === '') return [];
  const segments = trimmed.split('.');
  if (segments.some((s) => s === '')) throw new RangeError(`arrayPath ${JSON.stringify(path)} has an empty key`);
  return segments;
}

/** JSONPath of a property: `$.invoices`, or `$["odd key"]` when the key is not an identifier. */
function childPath(parent: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

// What the grammar expects next, outside the records.
const EXPECT_VALUE = 0;
const EXPECT_VALUE_OR_END = 1;
const EXPECT_KEY = 2;
const EXPECT_KEY_OR_END = 3;
const EXPECT_COLON = 4;
const EXPECT_COMMA_OR_END = 5;
const DONE = 6;
const EXPECTED = [
  'a value',
  "a value or ']'",
  'a string key',
  "a string key or '}'",
  "':'",
  "',' or a closing bracket",
  'the end of the input',
];

// What the scanner is inside of.
const IN_GRAMMAR = 0;
const IN_STRING = 1;
const IN_LITERAL = 2;
const IN_ELEMENT = 3;

interface Frame {
  kind: 0x7b | 0x5b; // '{' or '['
  path: string;
  /** For an object on the way to the records: how many path keys lead to it; -1 off the path. */
  depth: number;
  /** This is the array of records. */
  target: boolean;
  /** Last key read (objects on the path only). */
  key: string | undefined;
  /** Elements so far (arrays). */
  count: number;
}

class JsonArrayScanner {
  private readonly stack: Frame[] = [];
  private expect = EXPECT_VALUE;
  private mode = IN_GRAMMAR;
  private line = 1;
  private started = false;
  private ready: JsonItem | undefined;
  private index = 0;
  /** The records' array, once found. */
  private target: Frame | undefined;
  /** Where the input ended, once it has. */
  private end = 0;
  /** The array-valued property chosen without an arrayPath, to name it if another one turns up. */
  private chosenKey: string | undefined;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  // A string outside the records (a key is kept when on the path), a literal, or an element being read.
  private escape = false;
  private isKey = false;
  private pieces: Buffer[] = [];
  private pieceFrom = -1;
  private piecesBytes = 0;
  private tokenStart = 0;
  private tokenLine = 0;
  /** Element kind: '{' or '[' (container), '"' (string), else a literal; and bracket depth in a container. */
  private elementKind = 0;
  private depth = 0;
  private inString = false;

  constructor(
    private readonly fileName: string,
    private readonly path: string[] | undefined,
    private readonly max: number,
  ) {}

  take(): JsonItem | undefined {
    const item = this.ready;
    this.ready = undefined;
    return item;
  }

  /** Scans from `i`; returns where it stopped: after one element ended, or the chunk's end. */
  scan(buf: Buffer, i: number, base: number): number {
    if (!this.started) {
      this.started = true;
      if (buf.subarray(0, 3).equals(UTF8_BOM)) i = 3;
    }
    const len = buf.length;
    while (i < len) {
      switch (this.mode) {
        case IN_ELEMENT: {
          const end = this.scanElement(buf, i);
          if (end === -1) return len;
          this.endElement(buf, end);
          i = end;
          return i;
        }
        case IN_STRING:
          i = this.scanString(buf, i, base);
          continue;
        case IN_LITERAL:
          i = this.scanLiteral(buf, i);
          continue;
      }
      const b = buf[i]!;
      if (b === SPACE || b === LF || b === CR || b === TAB) {
        if (b === LF) this.line++;
        i++;
        continue;
      }
      i = this.token(buf, i, base);
    }
    return len;
  }

  /** Keeps the unfinished token's bytes from this chunk before the next one arrives. */
  endOfChunk(buf: Buffer): void {
    if (this.pieceFrom !== -1) {
      this.addPiece(buf.subarray(this.pieceFrom));
      this.pieceFrom = 0;
    }
  }

  /** The input ended at `end`. A literal element or literal can end there; anything else open is an error. */
  finish(end: number): void {
    if (this.mode === IN_ELEMENT && this.elementKind !== 0x7b && this.elementKind !== 0x5b && !this.inString) {
      this.pieceFrom = -1;
      this.endElementBytes();
    } else if (this.mode === IN_LITERAL) {
      this.pieceFrom = -1;
      this.endLiteral();
    }
    this.end = end;
  }

  /** After the last item: the document must be complete and the records' array found. */
  check(): void {
    const { end } = this;
    if (this.mode === IN_ELEMENT || this.mode === IN_STRING) {
      const what = this.mode === IN_ELEMENT ? this.elementPosition() : 'a string';
      this.fail(this.tokenLine, this.tokenStart, `the input ends inside ${what} that starts here`);
    }
    if (this.expect !== DONE) {
      this.fail(
        this.line,
        end,
        this.started ? `the input ends where ${EXPECTED[this.expect]} was expected` : 'the file is empty',
      );
    }
    if (this.target === undefined) {
      this.fail(
        this.line,
        end,
        this.path === undefined
          ? 'no array of records: the top-level value must be an array, or an object with one array-valued property'
          : `no array at ${this.path.reduce(childPath, '$')}`,
      );
    }
  }

  /** One grammar token at i (not whitespace) outside the records; returns the index after what it consumed. */
  private token(buf: Buffer, i: number, base: number): number {
    const b = buf[i]!;
    const frame = this.stack.at(-1);
    switch (this.expect) {
      case EXPECT_VALUE:
      case EXPECT_VALUE_OR_END:
        if (b === 0x5d && this.expect === EXPECT_VALUE_OR_END) return this.close(buf, i, base);
        return this.startValue(buf, i, base, frame);
      case EXPECT_KEY:
      case EXPECT_KEY_OR_END:
        if (b === 0x7d && this.expect === EXPECT_KEY_OR_END) return this.close(buf, i, base);
        if (b !== QUOTE) break;
        this.startToken(i, base);
        this.isKey = true;
        // Keys matter only in objects on the path to the records.
        if (frame !== undefined && frame.depth >= 0) this.pieceFrom = i;
        this.mode = IN_STRING;
        return i + 1;
      case EXPECT_COLON:
        if (b !== 0x3a) break;
        this.expect = EXPECT_VALUE;
        return i + 1;
      case EXPECT_COMMA_OR_END:
        if (b === 0x2c) {
          this.expect = frame!.kind === 0x7b ? EXPECT_KEY : EXPECT_VALUE;
          return i + 1;
        }
        if (b === 0x7d || b === 0x5d) return this.close(buf, i, base);
        break;
    }
    return this.unexpected(buf, i, base);
  }

  private startValue(buf: Buffer, i: number, base: number, parent: Frame | undefined): number {
    const b = buf[i]!;
    const isContainer = b === 0x7b || b === 0x5b;
    if (!isContainer && b !== QUOTE && !isLiteralStart(b)) return this.unexpected(buf, i, base);
    if (parent?.target) {
      this.startToken(i, base);
      this.mode = IN_ELEMENT;
      this.elementKind = b;
      this.depth = 0;
      this.inString = false;
      this.escape = false;
      this.pieceFrom = i;
      return i;
    }
    const { path } = this;
    let depth = -1;
    let target = false;
    let framePath = '$';
    if (parent === undefined) {
      // The top-level value.
      if (path === undefined ? b !== 0x5b && b !== 0x7b : path.length === 0 ? b !== 0x5b : b !== 0x7b) {
        const wanted = path === undefined ? 'an array or an object' : path.length === 0 ? 'an array' : 'an object';
        this.fail(this.line, base + i, `the top-level value is ${kindOf(b)}, expected ${wanted}`);
      }
      target = b === 0x5b;
      depth = b === 0x7b ? 0 : -1;
    } else if (parent.kind === 0x7b && parent.depth >= 0 && parent.key !== undefined) {
      const key = parent.key;
      framePath = childPath(parent.path, key);
      if (path === undefined) {
        if (b === 0x5b) {
          if (this.target !== undefined) {
            this.fail(
              this.line,
              base + i,
              `${framePath} is a second array next to ${childPath('$', this.chosenKey!)}: pass arrayPath to say ` +
                'which one holds the records',
            );
          }
          target = true;
          this.chosenKey = key;
        }
      } else if (key === path[parent.depth]) {
        const last = parent.depth + 1 === path.length;
        if (this.target !== undefined && last) this.fail(this.line, base + i, `${framePath} appears twice`);
        if (last ? b !== 0x5b : b !== 0x7b) {
          this.fail(this.line, base + i, `${framePath} is ${kindOf(b)}, not ${last ? 'an array' : 'an object'}`);
        }
        target = last;
        depth = last ? -1 : parent.depth + 1;
      }
    }
    if (isContainer) {
      const frame: Frame = { kind: b, path: framePath, depth, target, key: undefined, count: 0 };
      if (target) this.target = frame;
      this.stack.push(frame);
      this.expect = b === 0x7b ? EXPECT_KEY_OR_END : EXPECT_VALUE_OR_END;
      return i + 1;
    }
    this.startToken(i, base);
    if (b === QUOTE) {
      this.isKey = false;
      this.mode = IN_STRING;
      return i + 1;
    }
    this.pieceFrom = i;
    this.mode = IN_LITERAL;
    return i;
  }

  private close(buf: Buffer, i: number, base: number): number {
    const frame = this.stack.at(-1);
    if (frame === undefined || (buf[i] === 0x7d) !== (frame.kind === 0x7b)) return this.unexpected(buf, i, base);
    this.stack.pop();
    this.valueDone();
    return i + 1;
  }

  private valueDone(): void {
    const parent = this.stack.at(-1);
    if (parent === undefined) {
      this.expect = DONE;
      return;
    }
    parent.count++;
    this.expect = EXPECT_COMMA_OR_END;
  }

  private startToken(i: number, base: number): void {
    this.tokenStart = base + i;
    this.tokenLine = this.line;
    this.pieces = [];
    this.piecesBytes = 0;
    this.pieceFrom = -1;
  }

  private addPiece(piece: Buffer): void {
    this.pieces.push(piece);
    this.piecesBytes += piece.length;
    if (this.piecesBytes > this.max) {
      const what = this.mode === IN_ELEMENT ? this.elementPosition() : this.isKey ? 'a key' : 'a value';
      this.fail(this.tokenLine, this.tokenStart, `${what} is longer than ${this.max} bytes`);
    }
  }

  /** A string outside the records; a key on the path is kept. */
  private scanString(buf: Buffer, i: number, base: number): number {
    const len = buf.length;
    for (; i < len; i++) {
      const b = buf[i]!;
      if (this.escape) {
        this.escape = false;
      } else if (b === BACKSLASH) {
        this.escape = true;
      } else if (b === QUOTE) {
        this.mode = IN_GRAMMAR;
        if (!this.isKey) {
          this.valueDone();
          return i + 1;
        }
        this.expect = EXPECT_COLON;
        const frame = this.stack.at(-1)!;
        frame.key = undefined;
        if (this.pieceFrom !== -1) {
          this.addPiece(buf.subarray(this.pieceFrom, i + 1));
          this.pieceFrom = -1;
          frame.key = this.parseToken((text) => JSON.parse(text) as string, 'key');
        }
        return i + 1;
      } else if (b < SPACE) {
        this.fail(this.line, base + i, 'control character inside a string (a string not closed on its line?)');
      }
    }
    return len;
  }

  /** A number, true, false or null outside the records: checked when it ends. */
  private scanLiteral(buf: Buffer, i: number): number {
    const len = buf.length;
    while (i < len && isLiteralByte(buf[i]!)) i++;
    if (i === len) return len;
    this.addPiece(buf.subarray(this.pieceFrom, i));
    this.pieceFrom = -1;
    this.endLiteral();
    return i;
  }

  private endLiteral(): void {
    const text = Buffer.concat(this.pieces).toString('latin1');
    if (!/^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(text)) {
      this.fail(this.tokenLine, this.tokenStart, `${JSON.stringify(text.slice(0, 40))} is not a JSON value`);
    }
    this.mode = IN_GRAMMAR;
    this.valueDone();
  }

  /** Scans an element from i; returns the index just past its end, or -1 when it goes on past this chunk. */
  private scanElement(buf: Buffer, i: number): number {
    const len = buf.length;
    const kind = this.elementKind;
    if (kind !== 0x7b && kind !== 0x5b && kind !== QUOTE) {
      // A literal ends at the first byte that cannot be part of one; that byte is the grammar's.
      while (i < len && isLiteralByte(buf[i]!)) i++;
      return i === len ? -1 : i;
    }
    // Brackets inside strings do not count; a string element ends when its quote closes at depth 0, a container
    // when its bracket does. Mismatched brackets are left for JSON.parse to find.
    let { depth, inString, escape } = this;
    let line = this.line;
    let ended = false;
    for (; i < len && !ended; i++) {
      const b = buf[i]!;
      if (inString) {
        if (escape) escape = false;
        else if (b === BACKSLASH) escape = true;
        else if (b === QUOTE) {
          inString = false;
          ended = depth === 0;
        } else if (b === LF) line++;
      } else if (b === QUOTE) {
        inString = true;
      } else if (b === 0x7b || b === 0x5b) {
        depth++;
      } else if (b === 0x7d || b === 0x5d) {
        ended = --depth === 0;
      } else if (b === LF) {
        line++;
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escape = escape;
    this.line = line;
    return ended ? i : -1;
  }

  private endElement(buf: Buffer, end: number): void {
    this.addPiece(buf.subarray(this.pieceFrom, end));
    this.pieceFrom = -1;
    this.endElementBytes();
  }

  private endElementBytes(): void {
    const frame = this.stack.at(-1)!;
    const position = this.elementPosition();
    const at = { index: ++this.index, line: this.tokenLine, byteOffset: this.tokenStart, position };
    const bytes = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
    this.pieces = [];
    this.piecesBytes = 0;
    this.mode = IN_GRAMMAR;
    frame.count++;
    this.expect = EXPECT_COMMA_OR_END;
    try {
      this.ready = { ...this.parseBytes(bytes, position), ...at };
    } catch (err) {
      if (!(err instanceof ForbiddenKeyError)) throw err;
      this.ready = { error: recordError(err), ...at };
    }
  }

  private parseBytes(bytes: Buffer, what: string): { value: unknown; issues?: FieldIssue[] } {
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      this.fail(this.tokenLine, this.tokenStart, `${what} is not valid UTF-8`);
    }
    try {
      return exactNumbers(text, parseJsonSafe(text));
    } catch (err) {
      if (err instanceof ForbiddenKeyError) throw err;
      this.fail(this.tokenLine, this.tokenStart, `${what} is not valid JSON: ${(err as Error).message}`);
    }
  }

  private parseToken<T>(parse: (text: string) => T, what: string): T {
    const bytes = Buffer.concat(this.pieces);
    this.pieces = [];
    this.piecesBytes = 0;
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch {
      this.fail(this.tokenLine, this.tokenStart, `${what} is not valid UTF-8`);
    }
    try {
      return parse(text);
    } catch (err) {
      this.fail(this.tokenLine, this.tokenStart, `${what} is not valid JSON: ${(err as Error).message}`);
    }
  }

  private elementPosition(): string {
    const frame = this.stack.at(-1)!;
    return `${frame.path}[${frame.count}]`;
  }

  private unexpected(buf: Buffer, i: number, base: number): never {
    const b = buf[i]!;
    const shown = b >= SPACE && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
    const expected = this.expect === DONE ? 'the end of the input after the top-level value' : EXPECTED[this.expect];
    return this.fail(this.line, base + i, `unexpected ${shown} where ${expected} was expected`);
  }

  private fail(line: number, byteOffset: number, problem: string): never {
    throw new InputError(`${this.fileName}: line ${line} (byte ${byteOffset}): ${problem}`, {
      file: this.fileName,
      line,
      byteOffset,
    });
  }
}

function isLiteralStart(b: number): boolean {
  return b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e;
}

/** Bytes a number, true, false or null may contain: letters, digits, sign, point, exponent. */
function isLiteralByte(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x41 && b <= 0x5a) ||
    b === 0x2d ||
    b === 0x2b ||
    b === 0x2e
  );
}

function kindOf(b: number): string {
  if (b === 0x7b) return 'an object';
  if (b === 0x5b) return 'an array';
  if (b === QUOTE) return 'a string';
  if (b === 0x74 || b === 0x66) return 'a boolean';
  if (b === 0x6e) return 'null';
  return 'a number';
}
