/**
 * Streaming CSV records for profiles that read a file front to back rather than by planned byte ranges (csv.ts):
 * reference masters, and profiles whose documents are groups of rows (an invoice header row and its line rows) that
 * `groupContiguous` gathers. Parsing is csv-parse's stream API with the same quote rules as csv.ts (`relax_quotes`,
 * LF or CRLF record delimiters, blank lines skipped), so a file reads the same through both.
 *
 * Every record carries its first physical line and the byte offset of its first byte. csv-parse reports the line a
 * record ends on and the bytes read so far, which do not give the start of a record that follows skipped blank lines
 * or spans lines; so the bytes pass through a line index on their way in (the offset of every line start, kept only
 * until the parser has gone past it), and a record's start line, from csv-parse's counts, gives its offset.
 *
 * windows-1252 is parsed as latin1, which keeps one character per byte (so offsets stay exact and every delimiter,
 * quote and line break is where the bytes say); the 27 characters where windows-1252 and latin1 differ (0x80-0x9F:
 * €, smart quotes, Š, Ž, ...) are then mapped to what windows-1252 means (csv.ts says why not `TextDecoder`).
 */
import { createReadStream } from 'node:fs';
import { pipeline, Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { parse } from 'csv-parse';
import type { CsvError, InfoRecord, Options } from 'csv-parse';
import { InputError } from '../profiles/types.ts';
import { latin1ToWindows1252 } from './csv.ts';
import type { RecordLocation } from '../profiles/types.ts';
import type { CsvEncoding } from './csv.ts';

export interface CsvRecordsOptions {
  /** Single-byte field delimiter (`,` `;` `\t` `|`). Default `,`. */
  delimiter?: string;
  /** Default UTF-8 (a byte order mark is skipped; invalid sequences become U+FFFD). */
  encoding?: CsvEncoding;
  /** A record longer than this is an `InputError`. Default 1 MiB. */
  maxRecordBytes?: number;
}

export interface CsvRowRecord {
  /** 1-based physical line of the record's first line. */
  line: number;
  /** Byte offset of the record's first byte in the file. */
  byteOffset?: number;
  /** Header name -> cell text, every header name present. */
  fields: Record<string, string>;
  /** `line 12`. */
  position: string;
}

const LF = 0x0a;
const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/**
 * Yields the records of a CSV file. The first record is the header: names trimmed, non-empty and unique. Every
 * record must have as many cells as the header. Errors are `InputError`s naming the file and line.
 */
export async function* readCsvRecords(
  file: string,
  fileName: string,
  options: CsvRecordsOptions = {},
): AsyncGenerator<CsvRowRecord> {
  const { delimiter = ',', encoding = 'utf-8', maxRecordBytes = DEFAULT_MAX_RECORD_BYTES } = options;
  const delimiterBytes = Buffer.from(delimiter, 'utf8');
  if (delimiterBytes.length !== 1 || ['"', '\r', '\n'].includes(delimiter)) {
    throw new RangeError(
      `CSV delimiter must be one byte other than a quote or line break, got ${JSON.stringify(delimiter)}`,
    );
  }
  if (encoding !== 'utf-8' && encoding !== 'windows-1252') {
    throw new RangeError(`CSV encoding must be utf-8 or windows-1252, got ${JSON.stringify(encoding)}`);
  }
  if (!(maxRecordBytes >= 1)) throw new RangeError(`maxRecordBytes must be positive, got ${maxRecordBytes}`);
  const text = encoding === 'windows-1252' ? latin1ToWindows1252 : (s: string): string => s;

  // Where each record starts, worked out as csv-parse emits it (errors can overtake records not yet consumed, so
  // this must not wait for the loop below): after the previous record's last byte and the blank lines skipped since.
  const lines = new LineIndex();
  let previousEnd = 0;
  let emptyLines = 0;
  const startOf = (emptyLinesNow: number): number => lines.lineAt(previousEnd) + (emptyLinesNow - emptyLines);
  const parseOptions: Options<ParsedRecord, string[]> = {
    delimiter,
    encoding: encoding === 'windows-1252' ? 'latin1' : 'utf8',
    bom: true,
    max_record_size: maxRecordBytes,
    record_delimiter: ['\r\n', '\n'],
    relax_quotes: true,
    relax_column_count: false,
    skip_empty_lines: true,
    on_record: (cells: string[], info: InfoRecord): ParsedRecord => {
      const line = startOf(info.empty_lines);
      previousEnd = info.bytes;
      emptyLines = info.empty_lines;
      return { cells, line, byteOffset: lines.offsetOf(line) };
    },
  };
  // csv-parse's overloads only let on_record change the record type together with `columns`, which is not used here.
  const parser = parse(parseOptions as unknown as Options);
  const records = pipeline(createReadStream(file), lines, parser, () => {
    // Errors reach the loop below through the parser, which pipeline destroys with them.
  });

  let header: string[] | undefined;
  let headerLine = 0;
  try {
    for await (const item of records as AsyncIterable<ParsedRecord>) {
      const { cells, line, byteOffset } = item;
      if (header === undefined) {
        header = checkHeader(
          cells.map((cell) => text(cell).trim()),
          fileName,
          line,
          byteOffset,
        );
        headerLine = line;
        continue;
      }
      const fields: Record<string, string> = {};
      for (let i = 0; i < header.length; i++) fields[header[i]!] = text(cells[i] ?? '');
      yield { line, byteOffset, fields, position: `line ${line}` };
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    const csvError = err as CsvError & { empty_lines?: number; record?: unknown[] };
    if (typeof csvError.code !== 'string' || !csvError.code.startsWith('CSV_')) throw err;
    // csv-parse names the line it had reached, counting a carriage return inside quotes as a line break; say
    // where the record began instead, counting line feeds as csv.ts does.
    const line = startOf(typeof csvError.empty_lines === 'number' ? csvError.empty_lines : emptyLines);
    let message = csvError.message;
    if (csvError.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      const cells = csvError.record?.length ?? '?';
      message = `record has ${cells} cells but the header (line ${headerLine || 1}) has ${header?.length ?? '?'}`;
    } else if (csvError.code === 'CSV_MAX_RECORD_SIZE') {
      message = `record is longer than ${maxRecordBytes} bytes (is a quoted field not closed?)`;
    } else if (csvError.code === 'CSV_QUOTE_NOT_CLOSED') {
      message = 'quoted field is not closed before the end of the file';
    }
    throw new InputError(`${fileName}: line ${line}: ${message}`, {
      file: fileName,
      line,
      byteOffset: lines.offsetOf(line),
    });
  } finally {
    (records as Transform).destroy();
  }
}

interface ParsedRecord {
  cells: string[];
  line: number;
  byteOffset: number | undefined;
}

function checkHeader(header: string[], fileName: string, line: number, byteOffset: number | undefined): string[] {
  const where: RecordLocation = { file: fileName, line, byteOffset };
  const seen = new Set<string>();
  header.forEach((name, i) => {
    const fail = (problem: string): never => {
      throw new InputError(`${fileName}: line ${line}: header column ${i + 1} ${problem}`, where, 'schema_violation');
    };
    if (name === '') fail('has an empty name');
    if (seen.has(name)) fail(`repeats the name ${JSON.stringify(name)}`);
    // Assigning `__proto__` on a plain object would silently drop the cell.
    if (name === '__proto__') fail('has a reserved name');
    seen.add(name);
  });
  return header;
}

/**
 * Passes bytes through unchanged, noting where each line starts. Offsets are dropped once asked about a later line,
 * so only the lines between the parser and the file reader are held.
 */
class LineIndex extends Transform {
  /** starts[i] is the byte offset of line base + i; line 1 starts at 0 even after a byte order mark. */
  private starts: number[] = [0];
  private base = 1;
  /** Index in `starts` of the line last found by `lineAt`. */
  private cursor = 0;
  private bom = 0;
  private offset = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.offset === 0 && chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
      this.bom = 3;
    }
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) this.starts.push(this.offset + i + 1);
    this.offset += chunk.length;
    done(null, chunk);
  }

  /** 1-based line holding byte `offset`, which must not be before an offset asked about earlier. */
  lineAt(offset: number): number {
    while (this.cursor + 1 < this.starts.length && this.starts[this.cursor + 1]! <= offset) this.cursor++;
    if (this.cursor > 4096) {
      // Forget passed lines now and then rather than shifting the array on every record.
      this.starts = this.starts.slice(this.cursor);
      this.base += this.cursor;
      this.cursor = 0;
    }
    return this.base + this.cursor;
  }

  /** Byte offset of the first byte of a line at or after the last one found by `lineAt`. */
  offsetOf(line: number): number | undefined {
    if (line === 1) return this.bom;
    const i = line - this.base;
    return i >= 0 ? this.starts[i] : undefined;
  }
}

/**
 * Yields runs of consecutive items with the same key, in order: the rows of one document. A key that comes back
 * after a different key is an `InputError` ("rows of invoice INV-7 are not contiguous: first at line 5, again at
 * line 12 after INV-9"): a document's rows must be together, or it would be split into two documents. Keys of
 * finished runs are remembered, one string each.
 *
 * `describe` says where an item is (`line 12`); `options.noun` names what the key identifies (default `key`),
 * `options.file` prefixes messages and fills the error's location, which `options.location` can give exactly.
 */
export async function* groupContiguous<T>(
  items: AsyncIterable<T>,
  keyOf: (item: T) => string,
  describe: (item: T) => string,
  options: { file?: string; noun?: string; location?: (item: T) => RecordLocation } = {},
): AsyncGenerator<T[]> {
  const { file, noun = 'key', location } = options;
  const closed = new Map<string, string>();
  let run: T[] = [];
  let runKey = '';
  for await (const item of items) {
    const key = keyOf(item);
    if (run.length > 0 && key === runKey) {
      run.push(item);
      continue;
    }
    const first = closed.get(key);
    if (first !== undefined) {
      const where = describe(item);
      throw new InputError(
        `${file === undefined ? '' : `${file}: `}rows of ${noun} ${key} are not contiguous: first at ${first}, ` +
          `again at ${where} after ${runKey}`,
        location?.(item) ?? { file: file ?? '', position: where },
      );
    }
    if (run.length > 0) {
      closed.set(runKey, describe(run[0]!));
      yield run;
    }
    run = [item];
    runKey = key;
  }
  if (run.length > 0) yield run;
}
