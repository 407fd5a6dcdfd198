/**
 * CSV format layer: plans a file into chunks of whole records, then reads one chunk back into source records.
 * Generic: knows RFC 4180 and nothing about any profile. The delimiter (any single byte but a quote or line break) and
 * the encoding are chosen when planning; the layout records both, so readers follow whatever a planner decided.
 *
 * Planning scans raw bytes (no decoding, no field splitting) with `Buffer.indexOf`, so it runs at disk speed over
 * multi-GB files with bounded memory. Reading finds the same record boundaries with the same `RecordScanner`, whose
 * quote rules mirror csv-parse with `relax_quotes` (see `parseOptions`), then splits cells; csv-parse parses every
 * record that has a quoted field. The reader checks that it found exactly the records the plan promised.
 *
 * Text is UTF-8 or windows-1252. Both keep the delimiter, quote and line breaks as single ASCII bytes, so planning
 * never decodes; only reading does. Bytes that are not valid UTF-8 become U+FFFD; a record holding one (or a NUL) is
 * read with a parse issue naming the field (see unreadable-text.ts), so it is held rather than committed damaged; in
 * the header they are an input error. */
import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Options as CsvParseOptions } from 'csv-parse/sync';
import { InputError } from '../profiles/types.ts';
import type { ChunkPlan, InputLayout, SourceRecord } from '../profiles/types.ts';
import { checkText, hasUnreadableText } from './unreadable-text.ts';

/**
 * What planning learned about the file and every chunk reader needs. A type alias rather than an interface so that
 * it is assignable to the profile contract's `InputLayout` (`Record<string, unknown>`): it is stored as plain JSON.
 */
export type CsvLayout = {
  /** Header cells, trimmed; unique and non-empty. Empty for an empty file. */
  header: string[];
  /** Single-byte field delimiter. */
  delimiter: string;
  /** Whether the file starts with a UTF-8 byte order mark (skipped). Always false for windows-1252. */
  bom: boolean;
  /** Text encoding; absent means UTF-8, as in layouts stored before the option existed. */
  encoding?: CsvEncoding;
  /** 1-based physical line of the header (blank lines before it are skipped). */
  headerLine: number;
  /** Byte offset just past the header's line break: where data records may start. */
  dataStartByte: number;
};

export type CsvEncoding = 'utf-8' | 'windows-1252';

/** How the file is written, as the profile or the user says; nothing is guessed. */
export interface CsvFormatOptions {
  /** Single-byte field delimiter: `,` (default), `;`, `\t`, `|`, ... */
  delimiter?: string;
  /** Default UTF-8. */
  encoding?: CsvEncoding;
}

export interface CsvPlanLimits {
  /** Records per chunk at most. */
  maxRecords: number;
  /** Bytes per chunk at most; a single record larger than this still gets a chunk of its own. */
  maxBytes: number;
  /** A record longer than this (including its line break) is an input error. Default 1 MiB. */
  maxRecordBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const UTF8_REPLACEMENT = Buffer.from('\ufffd', 'utf8');
const DEFAULT_MAX_RECORD_BYTES = 1 << 20;
const READ_BUFFER_BYTES = 1 << 20;

/**
 * Plans a CSV file: yields `{ layout }` first, then chunk plans in file order. Chunks hold whole records only, up to
 * `maxRecords` records and `maxBytes` bytes (`byteEnd - byteStart`). Blank lines are skipped and not counted; blank
 * lines between two chunks belong to neither. Throws `InputError` for a record longer than `maxRecordBytes`, an
 * unterminated quoted field, or a bad header (empty or duplicate names). `format` gives the delimiter (default `,`)
 * and encoding (default UTF-8), which the layout keeps for the readers; a bad one is a `RangeError`.
 */
export async function* planCsvChunks(
  file: string,
  fileName: string,
  limits: CsvPlanLimits,
  format: CsvFormatOptions = {},
): AsyncGenerator<{ layout: CsvLayout } | ChunkPlan> {
  const { maxRecords, maxBytes, maxRecordBytes = DEFAULT_MAX_RECORD_BYTES } = limits;
  if (!(maxRecords >= 1 && maxBytes >= 1 && maxRecordBytes >= 1)) {
    throw new RangeError(`CSV plan limits must be positive, got ${JSON.stringify(limits)}`);
  }
  const { delimiter = ',', encoding = 'utf-8' } = format;
  delimiterByte(delimiter);
  checkEncoding(encoding);
  // A byte order mark says UTF-8; a windows-1252 file has none, and its first bytes are text.
  const bom = encoding === 'utf-8' && (await startsWithBom(file));
  const dataStart = bom ? UTF8_BOM.length : 0;
  const text: TextFormat = { delimiter, encoding, bom };

  let headerRecord: { start: number; end: number; line: number } | undefined;
  let layout: CsvLayout | undefined;
  const ready: ChunkPlan[] = [];
  let chunkNo = 0;
  let nextRecord = 1;
  let count = 0;
  let chunkStart = 0;
  let chunkEnd = 0;
  let chunkLine = 0;
  const flush = (): void => {
    ready.push({
      chunkNo: chunkNo++,
      byteStart: chunkStart,
      byteEnd: chunkEnd,
      firstRecord: nextRecord,
      recordCount: count,
      firstLine: chunkLine,
    });
    nextRecord += count;
    count = 0;
  };

  const scanner = new RecordScanner({
    fileName,
    delimiter: delimiterByte(delimiter),
    maxRecordBytes,
    start: dataStart,
    line: 1,
    onRecord: (start, end, line) => {
      if (headerRecord === undefined) {
        headerRecord = { start, end, line };
        return;
      }
      // Each record is one document, true of every CSV profile so far. A profile whose documents span several rows
      // (invoice header + line rows) would have to keep rows with the same document key in one chunk here.
      if (count > 0 && (count >= maxRecords || end - chunkStart > maxBytes)) flush();
      if (count === 0) {
        chunkStart = start;
        chunkLine = line;
      }
      count++;
      chunkEnd = end;
    },
  });

  let offset = dataStart;
  for await (const buf of createReadStream(file, { start: dataStart, highWaterMark: READ_BUFFER_BYTES })) {
    scanner.feed(buf as Buffer, offset);
    offset += (buf as Buffer).length;
    if (layout === undefined && headerRecord !== undefined) {
      layout = await readHeader(file, fileName, headerRecord, text);
      yield { layout };
    }
    yield* ready.splice(0);
  }
  scanner.finish(offset);
  if (layout === undefined) {
    layout =
      headerRecord === undefined
        ? withEncoding({ header: [], delimiter, bom, headerLine: 1, dataStartByte: offset }, encoding)
        : await readHeader(file, fileName, headerRecord, text);
    yield { layout };
  }
  if (count > 0) flush();
  yield* ready.splice(0);
}

/**
 * Reads one planned chunk: exactly the bytes [byteStart, byteEnd). Cells map to header names; cells beyond the header
 * become `_extra_1`, `_extra_2`, ...; missing trailing cells are absent. Throws `InputError` when the bytes do not hold
 * the planned number of records (the file changed since planning).
 */
export async function readCsvChunk(
  file: string,
  fileName: string,
  layout: CsvLayout,
  chunk: ChunkPlan,
): Promise<SourceRecord[]> {
  const bytes = await readRange(file, fileName, chunk.byteStart, chunk.byteEnd);
  const base = chunk.byteStart;
  const where = `${fileName}: chunk ${chunk.chunkNo} (bytes ${chunk.byteStart}-${chunk.byteEnd})`;
  const location = { file: fileName, byteOffset: chunk.byteStart, recordNo: chunk.firstRecord };

  // Record boundaries come from the planner's scanner. A record without a quoted field is split on the delimiter
  // directly, which is exactly what csv-parse does with it but several times faster; records with quoted fields
  // (quoted delimiters, line breaks, doubled quotes) are parsed by csv-parse, all of a chunk's in one call.
  const offsets: number[] = [];
  const lines: number[] = [];
  const rows: string[][] = [];
  const quotedRows: number[] = [];
  const quotedBytes: Buffer[] = [];
  const scanner = new RecordScanner({
    fileName,
    delimiter: delimiterByte(layout.delimiter),
    maxRecordBytes: Infinity,
    start: base,
    line: chunk.firstLine ?? 1,
    onRecord: (start, end, line, quoted) => {
      offsets.push(start);
      lines.push(line);
      if (quoted) {
        // Each slice ends with its line break (only the file's last record may not, and it is last here too).
        quotedRows.push(rows.length);
        quotedBytes.push(bytes.subarray(start - base, end - base));
        rows.push([]);
      } else {
        rows.push(splitPlainRecord(bytes, start - base, end - base, layout.delimiter, layout.encoding));
      }
    },
  });
  scanner.feed(bytes, base);
  scanner.finish(chunk.byteEnd);

  if (quotedBytes.length > 0) {
    let parsed: string[][];
    try {
      parsed = parse(decode(Buffer.concat(quotedBytes), layout.encoding), parseOptions(layout.delimiter));
    } catch (err) {
      throw new InputError(`${where} cannot be parsed: ${(err as Error).message}`, location);
    }
    if (parsed.length !== quotedRows.length) {
      throw new InputError(
        `${where}: csv-parse found ${parsed.length} records where the planner found ${quotedRows.length}`,
        location,
      );
    }
    for (let i = 0; i < quotedRows.length; i++) rows[quotedRows[i]!] = parsed[i]!;
  }
  if (rows.length !== chunk.recordCount) {
    throw new InputError(
      `${where} was planned with ${chunk.recordCount} records but holds ${rows.length}; has the file changed?`,
      location,
    );
  }

  const { header } = layout;
  // Only a chunk whose bytes hold a NUL, or (in UTF-8) bytes that are not UTF-8 or a literal U+FFFD, needs its
  // records checked for unreadable text.
  const suspect =
    bytes.includes(0) ||
    ((layout.encoding ?? 'utf-8') === 'utf-8' && (!isUtf8(bytes) || bytes.includes(UTF8_REPLACEMENT)));
  const records: SourceRecord[] = [];
  for (let i = 0; i < rows.length; i++) {
    const cells = rows[i]!;
    const fields: Record<string, string> = {};
    for (let c = 0; c < cells.length; c++) {
      fields[c < header.length ? header[c]! : `_extra_${c - header.length + 1}`] = cells[c]!;
    }
    const record: SourceRecord = {
      recordNo: chunk.firstRecord + i,
      location:
        chunk.firstLine === undefined
          ? { file: fileName, byteOffset: offsets[i]! }
          : { file: fileName, line: lines[i]!, byteOffset: offsets[i]! },
      fields,
    };
    if (suspect) {
      const checked = checkText(fields);
      if (checked.issues.length > 0) {
        record.fields = checked.value;
        record.parseIssues = checked.issues;
      }
    }
    records.push(record);
  }
  return records;
}

/** Cells of a record with no quoted field: its text without the line break, split on the delimiter. */
function splitPlainRecord(
  bytes: Buffer,
  start: number,
  end: number,
  delimiter: string,
  encoding: CsvEncoding | undefined,
): string[] {
  let textEnd = end;
  if (textEnd > start && bytes[textEnd - 1] === LF) {
    textEnd--;
    if (textEnd > start && bytes[textEnd - 1] === CR) textEnd--;
  }
  return decode(bytes, encoding, start, textEnd).split(delimiter);
}

/** Text of bytes in the layout's encoding; `Buffer.toString` for UTF-8 replaces invalid sequences with U+FFFD. */
function decode(bytes: Buffer, encoding: CsvEncoding | undefined, start = 0, end = bytes.length): string {
  return encoding === 'windows-1252' ? decodeWindows1252(bytes, start, end) : bytes.toString('utf8', start, end);
}

/**
 * windows-1252 characters for bytes 0x80-0x9F (WHATWG Encoding Standard, index-windows-1252); every other byte is
 * the code point of the same number, as in latin1. Node's `TextDecoder('windows-1252')` cannot be used: since
 * v20.18.3 and v22.13.0 it decodes this range as latin1 (nodejs/node#56542, #60888), so 0x80 came out as U+0080
 * instead of €.
 */
const WINDOWS_1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';
const HAS_C1 = /[\u0080-\u009f]/;
const C1 = /[\u0080-\u009f]/g;

/** Text decoded as latin1 (one character per byte), as windows-1252. */
export function latin1ToWindows1252(text: string): string {
  return HAS_C1.test(text) ? text.replace(C1, (ch) => WINDOWS_1252_HIGH[ch.charCodeAt(0) - 0x80]!) : text;
}

/** windows-1252 bytes as text. */
export function decodeWindows1252(bytes: Buffer, start = 0, end = bytes.length): string {
  return latin1ToWindows1252(bytes.toString('latin1', start, end));
}

/** Checks a layout that came back from storage (plain JSON) and returns it typed. */
export function toCsvLayout(layout: InputLayout): CsvLayout {
  const { header, delimiter, bom, headerLine, dataStartByte, encoding } = layout;
  if (
    !Array.isArray(header) ||
    !header.every((h) => typeof h === 'string') ||
    typeof delimiter !== 'string' ||
    typeof bom !== 'boolean' ||
    typeof headerLine !== 'number' ||
    typeof dataStartByte !== 'number' ||
    !(encoding === undefined || encoding === 'utf-8' || encoding === 'windows-1252')
  ) {
    throw new TypeError(`not a CSV layout: ${JSON.stringify(layout).slice(0, 200)}`);
  }
  return withEncoding({ header: header as string[], delimiter, bom, headerLine, dataStartByte }, encoding);
}

/** The layout with its encoding, which is left out for UTF-8 so layouts read the same as before the option. */
function withEncoding(layout: CsvLayout, encoding: CsvEncoding | undefined): CsvLayout {
  return encoding === undefined || encoding === 'utf-8' ? layout : { ...layout, encoding };
}

interface TextFormat {
  delimiter: string;
  encoding: CsvEncoding;
  bom: boolean;
}

function checkEncoding(encoding: string): void {
  if (encoding !== 'utf-8' && encoding !== 'windows-1252') {
    throw new RangeError(`CSV encoding must be utf-8 or windows-1252, got ${JSON.stringify(encoding)}`);
  }
}

/**
 * csv-parse options that match `RecordScanner`'s record boundaries:
 * - `relax_quotes`: a quote opens a quoted field only at the start of a field; elsewhere it is a literal character,
 *   and a closing quote followed by other text ends quoting and keeps the text literally.
 * - `record_delimiter` LF or CRLF only: a lone CR is an ordinary character.
 * - `skip_empty_lines`: a line with no bytes (or just CR) is not a record; `,,` or `""` is.
 */
const parseOptions = (delimiter: string): CsvParseOptions => ({
  delimiter,
  record_delimiter: ['\r\n', '\n'],
  relax_quotes: true,
  relax_column_count: true,
  skip_empty_lines: true,
  bom: false,
});

interface ScannerOptions {
  fileName: string;
  delimiter: number;
  maxRecordBytes: number;
  /** Absolute offset of the first byte that will be fed: the start of a record. */
  start: number;
  /** 1-based line number at `start`. */
  line: number;
  /**
   * Called for each non-blank record with its absolute [start, end) (end past its line break), its first line, and
   * whether it has a quoted field.
   */
  onRecord: (start: number, end: number, line: number, quoted: boolean) => void;
}

/**
 * Finds record boundaries in a byte stream fed buffer by buffer, honouring quoted fields (a line break inside quotes
 * does not end a record). Jumps between quotes and line feeds with `Buffer.indexOf` instead of visiting every byte.
 */
class RecordScanner {
  private readonly fileName: string;
  private readonly delimiter: number;
  private readonly maxRecordBytes: number;
  private readonly onRecord: ScannerOptions['onRecord'];
  private inQuotes = false;
  /** The previous buffer ended on a quote inside a quoted field: the next byte says whether it closes the field. */
  private pendingQuote = false;
  /** The byte before the next one fed; LF because feeding starts at a record start. */
  private prevByte = LF;
  private recordStart: number;
  private recordLine: number;
  private line: number;
  private recordQuoted = false;
  private quoteStart = 0;
  private quoteLine = 0;

  constructor(options: ScannerOptions) {
    this.fileName = options.fileName;
    this.delimiter = options.delimiter;
    this.maxRecordBytes = options.maxRecordBytes;
    this.onRecord = options.onRecord;
    this.recordStart = options.start;
    this.recordLine = options.line;
    this.line = options.line;
  }

  /** Feeds the next buffer; `base` is the absolute offset of its first byte. */
  feed(buf: Buffer, base: number): void {
    const len = buf.length;
    if (len === 0) return;
    let i = 0;
    if (this.pendingQuote) {
      this.pendingQuote = false;
      // A second quote makes an escaped quote and the field stays open; anything else means the quote closed it.
      if (buf[0] === QUOTE) i = 1;
      else this.inQuotes = false;
    }
    // Next LF / quote at or after i, or -1 when there is none left in this buffer.
    let nl = buf.indexOf(LF, i);
    let q = buf.indexOf(QUOTE, i);
    while (i < len) {
      if (q !== -1 && q < i) q = buf.indexOf(QUOTE, i);
      if (nl !== -1 && nl < i) nl = buf.indexOf(LF, i);
      if (this.inQuotes) {
        const stop = q === -1 ? len : q;
        while (nl !== -1 && nl < stop) {
          this.line++;
          nl = buf.indexOf(LF, nl + 1);
        }
        if (q === -1) break;
        if (q + 1 === len) {
          this.pendingQuote = true;
          break;
        }
        if (buf[q + 1] === QUOTE) {
          i = q + 2;
        } else {
          this.inQuotes = false;
          i = q + 1;
        }
        continue;
      }
      if (q !== -1 && (nl === -1 || q < nl)) {
        const before = q > 0 ? buf[q - 1] : this.prevByte;
        // A quote opens a quoted field only at the start of a field (csv-parse with relax_quotes).
        if (before === LF || before === this.delimiter) {
          this.inQuotes = true;
          this.recordQuoted = true;
          this.quoteStart = base + q;
          this.quoteLine = this.line;
        }
        i = q + 1;
        continue;
      }
      if (nl === -1) break;
      const end = base + nl + 1;
      const contentBytes = end - 1 - this.recordStart;
      const blank = contentBytes === 0 || (contentBytes === 1 && (nl > 0 ? buf[nl - 1] : this.prevByte) === CR);
      if (!blank) {
        if (end - this.recordStart > this.maxRecordBytes) this.failTooLong();
        this.onRecord(this.recordStart, end, this.recordLine, this.recordQuoted);
      }
      this.recordQuoted = false;
      this.line++;
      this.recordStart = end;
      this.recordLine = this.line;
      i = nl + 1;
    }
    this.prevByte = buf[len - 1]!;
    // Fail early on a runaway record (typically an unclosed quote) instead of scanning the rest of the file.
    if (base + len - this.recordStart > this.maxRecordBytes) this.failTooLong();
  }

  /** Ends the input at absolute offset `end`; a last record without a line break is emitted here. */
  finish(end: number): void {
    if (this.pendingQuote) {
      this.pendingQuote = false;
      this.inQuotes = false;
    }
    if (this.inQuotes) {
      throw new InputError(
        `${this.fileName}: line ${this.quoteLine} (byte ${this.quoteStart}): quoted field is not closed before the end of the input`,
        { file: this.fileName, line: this.quoteLine, byteOffset: this.quoteStart },
      );
    }
    if (end > this.recordStart) {
      this.onRecord(this.recordStart, end, this.recordLine, this.recordQuoted);
      this.recordStart = end;
    }
  }

  private failTooLong(): never {
    const hint = this.inQuotes
      ? `; a quoted field opened at line ${this.quoteLine} may be missing its closing quote`
      : '';
    throw new InputError(
      `${this.fileName}: line ${this.recordLine} (byte ${this.recordStart}): record is longer than ` +
        `${this.maxRecordBytes} bytes${hint}`,
      { file: this.fileName, line: this.recordLine, byteOffset: this.recordStart },
    );
  }
}

async function startsWithBom(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(UTF8_BOM.length);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return bytesRead === UTF8_BOM.length && head.equals(UTF8_BOM);
  } finally {
    await fh.close();
  }
}

async function readRange(file: string, fileName: string, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(end - start);
  const fh = await open(file, 'r');
  try {
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, start + filled);
      if (bytesRead === 0) {
        throw new InputError(`${fileName}: ends at byte ${start + filled}, before the planned byte ${end}`, {
          file: fileName,
          byteOffset: start + filled,
        });
      }
      filled += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf;
}

async function readHeader(
  file: string,
  fileName: string,
  record: { start: number; end: number; line: number },
  format: TextFormat,
): Promise<CsvLayout> {
  const { delimiter, encoding, bom } = format;
  const where = { file: fileName, line: record.line, byteOffset: record.start };
  const at = `${fileName}: line ${record.line} (byte ${record.start})`;
  const bytes = await readRange(file, fileName, record.start, record.end);
  const crAt = bytes.indexOf(CR);
  if (crAt !== -1 && crAt < bytes.length - 2) {
    // Old Mac line endings would make the whole file one record; say so instead of reporting odd column names.
    throw new InputError(`${at}: header contains a carriage return that does not end a line`, where);
  }
  const [cells] = parse(decode(bytes, encoding), parseOptions(delimiter));
  const header = (cells ?? []).map((cell) => cell.trim());
  const seen = new Set<string>();
  header.forEach((name, i) => {
    const column = `header column ${i + 1}`;
    if (name === '') throw new InputError(`${at}: ${column} has an empty name`, where, 'schema_violation');
    if (seen.has(name)) throw new InputError(`${at}: ${column} repeats the name "${name}"`, where, 'schema_violation');
    // Assigning `__proto__` on a plain object would silently drop the cell.
    if (name === '__proto__') throw new InputError(`${at}: ${column} has a reserved name`, where, 'schema_violation');
    if (hasUnreadableText(name)) {
      const problem = name.includes('\u0000')
        ? 'holds a NUL character'
        : 'is not valid UTF-8 (is the file windows-1252? set batch_config.input.encoding)';
      throw new InputError(`${at}: ${column} ${problem}`, where);
    }
    seen.add(name);
  });
  return withEncoding({ header, delimiter, bom, headerLine: record.line, dataStartByte: record.end }, encoding);
}

function delimiterByte(delimiter: string): number {
  const bytes = Buffer.from(delimiter, 'utf8');
  if (bytes.length !== 1 || bytes[0] === QUOTE || bytes[0] === LF || bytes[0] === CR) {
    throw new RangeError(
      `CSV delimiter must be one byte other than a quote or line break, got ${JSON.stringify(delimiter)}`,
    );
  }
  return bytes[0]!;
}
