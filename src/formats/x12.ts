/**
 * EDI X12 format layer: reads a file of one or more interchanges (ISA ... IEA) and yields its transaction sets
 * (ST ... SE) one at a time, with their envelope. Hand-written rather than a library so that every error can say
 * exactly where it is (interchange, group, set, segment position, byte) and so that memory stays bounded: the file is
 * read as a stream in blocks, and only the set being read is held.
 *
 * Two layers, each small:
 * - `SegmentScanner` turns bytes into segments. Delimiters come from each ISA, read as the standard's 106 fixed
 *   characters, so a file may hold interchanges with different delimiters. It knows nothing of groups or sets.
 * - `EnvelopeTracker` keeps the ISA / GS / ST stack, counts segments, sets and groups, and checks control numbers.
 *
 * Error policy: a problem confined to one transaction set (SE01 count, SE02 control, a segment outside ST..SE, a
 * missing SE) becomes an `X12SetError` in place of that set, and reading goes on, so one bad invoice is one
 * quarantined record, not a failed batch. A problem with the envelope or the bytes as a whole (no ISA, a malformed
 * ISA, GE/IEA counts or control numbers, a missing GE/IEA, trailing text, an over-long segment) throws `InputError`.
 *
 * Text is decoded as UTF-8 (X12's extended character set fits); delimiters must be single ASCII characters, so
 * finding them in the raw bytes is safe. Knows nothing of Temporal, Postgres or profiles.
 */
import { createReadStream } from 'node:fs';
import { InputError } from '../profiles/types.ts';

export interface X12Segment {
  /** Segment id, e.g. `ST`, `N1`. */
  id: string;
  /** Data elements in order: `elements[0]` is XX01. Composites are not split (see `componentSeparator`). */
  elements: string[];
  /** 1-based position of the segment within its interchange (ISA = 1). */
  position: number;
}

export interface X12Envelope {
  /** ISA13. */
  interchangeControl: string;
  /** ISA06, trimmed of its padding. */
  senderId: string;
  /** ISA08, trimmed of its padding. */
  receiverId: string;
  /** ISA12, e.g. `00401` or `00501`. */
  version: string;
  /** GS06. */
  groupControl: string;
  /** GS01, e.g. `IN`, `PO`, `SH`, `IM`. */
  functionalId: string;
  /** GS08, e.g. `004010` or `005010X222A1`. */
  groupVersion: string;
}

export interface X12TransactionSet {
  kind: 'set';
  /** ST01, e.g. `810`. */
  setId: string;
  /** ST02. */
  control: string;
  envelope: X12Envelope;
  /** ST..SE inclusive. */
  segments: X12Segment[];
  /** Byte offset of the ST segment. */
  byteOffset: number;
  /** 1-based line of the ST segment (1 throughout when the file has no line breaks). */
  line: number;
  /** e.g. `interchange 000000001 / group 1 / set 0001`. */
  where: string;
  componentSeparator: string;
  /** ISA11 when ISA12 is 00402 or later; absent for older versions, where ISA11 is a standards identifier. */
  repetitionSeparator?: string;
}

/** A transaction set that could not be read; it stands in for the set, and reading goes on after it. */
export interface X12SetError {
  kind: 'error';
  /** Names the file, interchange, group, set, segment position and byte of the problem. */
  message: string;
  setId?: string;
  control?: string;
  envelope?: Partial<X12Envelope>;
  /** Byte offset of the set's first segment (its ST, or the first segment of a run with no ST). */
  byteOffset: number;
  /** 1-based line of the set's first segment. */
  line: number;
  where: string;
  /** The segment where the problem was found (an SE, the next ST or GE, ...). */
  at: { segmentId: string; position: number; byteOffset: number; line: number };
}

export interface X12ReadOptions {
  /** A segment longer than this many bytes (terminator excluded) is an input error. Default 64 KiB; at least 106. */
  maxSegmentBytes?: number;
  /** A transaction set with more segments than this (ST and SE included) becomes an `X12SetError`. Default 100,000. */
  maxSegmentsPerSet?: number;
  /** Bytes per read from the file. Default 1 MiB; tests use tiny blocks to put boundaries everywhere. */
  blockBytes?: number;
}

/** The delimiters of one interchange, as read from its ISA. */
export interface X12Delimiters {
  element: string;
  component: string;
  segment: string;
  /** Only for ISA12 >= 00402. */
  repetition?: string;
}

const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024;
const DEFAULT_MAX_SEGMENTS_PER_SET = 100_000;
const READ_BLOCK_BYTES = 1 << 20;
const ISA_LENGTH = 106;
/** Widths of ISA01..ISA16: the ISA is fixed-length so that a reader can find the delimiters before knowing them. */
const ISA_WIDTHS = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1] as const;
/** ISA12 from which ISA11 is the repetition separator rather than a standards identifier (`U`). */
const FIRST_VERSION_WITH_REPETITION = '00402';
const LF = 0x0a;
const CR = 0x0d;
const SEGMENT_ID = /^[A-Z][A-Z0-9]{1,2}$/;
const START_OF_FILE = 'start of file';
/** How much of the input an error message quotes. */
const SNIPPET_BYTES = 30;

/**
 * Reads an X12 file and yields its transaction sets in file order, or an `X12SetError` in place of a set that is
 * broken on its own. Throws `InputError` for problems with the file or an envelope (see the module comment).
 */
export async function* readX12(
  file: string,
  fileName: string,
  options: X12ReadOptions = {},
): AsyncGenerator<X12TransactionSet | X12SetError> {
  const {
    maxSegmentBytes = DEFAULT_MAX_SEGMENT_BYTES,
    maxSegmentsPerSet = DEFAULT_MAX_SEGMENTS_PER_SET,
    blockBytes = READ_BLOCK_BYTES,
  } = options;
  if (!(Number.isInteger(maxSegmentBytes) && maxSegmentBytes >= ISA_LENGTH)) {
    throw new RangeError(`maxSegmentBytes must be an integer of at least ${ISA_LENGTH}, got ${maxSegmentBytes}`);
  }
  if (!(Number.isInteger(maxSegmentsPerSet) && maxSegmentsPerSet >= 2)) {
    throw new RangeError(`maxSegmentsPerSet must be an integer of at least 2, got ${maxSegmentsPerSet}`);
  }
  if (!(Number.isInteger(blockBytes) && blockBytes >= 1)) {
    throw new RangeError(`blockBytes must be a positive integer, got ${blockBytes}`);
  }

  const tracker = new EnvelopeTracker(fileName, maxSegmentsPerSet);
  const scanner = new SegmentScanner(fileName, maxSegmentBytes, () => tracker.context());
  // Every whole segment buffered so far, through the tracker; yields what the tracker finished.
  function* pump(): Generator<X12TransactionSet | X12SetError> {
    for (let segment = scanner.next(); segment !== undefined; segment = scanner.next()) {
      tracker.accept(segment);
      if (tracker.pending) yield* tracker.drain();
    }
  }
  const stream = createReadStream(file, { highWaterMark: blockBytes });
  try {
    for await (const block of stream) {
      scanner.push(block as Buffer);
      yield* pump();
    }
    scanner.end();
    yield* pump();
    tracker.finish(scanner.offset, scanner.lineNo);
  } finally {
    stream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Bytes -> segments

/** A segment as the scanner found it, before the envelope tracker gives it a position. */
interface RawSegment {
  id: string;
  elements: string[];
  byteOffset: number;
  line: number;
  /** Set on ISA segments only: the interchange's delimiters. */
  delimiters?: X12Delimiters;
}

/** What the scanner needs from the envelope tracker to say where a byte-level problem is. */
interface ScanContext {
  /** e.g. `interchange 000000001 / group 1 / set 0001`, or `after interchange 000000001` between interchanges. */
  where: string;
  /** Position the next segment will have within its interchange; undefined between interchanges. */
  nextPosition?: number;
}

/**
 * Splits a byte stream fed block by block into segments. Holds at most one unfinished segment plus one block: each
 * `push` drops the bytes already consumed. Between interchanges (at the start and after an IEA) it expects an ISA,
 * allowing whitespace; inside an interchange it allows CR/LF after each segment terminator.
 */
class SegmentScanner {
  private buf: Buffer = Buffer.alloc(0);
  /** Absolute offset of `buf[0]`. */
  private base = 0;
  /** Next unconsumed byte in `buf`. */
  private pos = 0;
  /** 1-based line at `pos`. */
  private line = 1;
  /** Absolute offset up to which the current segment has been searched for a terminator without finding one. */
  private searched = 0;
  private ended = false;
  private atStart = true;
  private delimiters: X12Delimiters | undefined;
  private terminator = 0;

  constructor(
    private readonly fileName: string,
    private readonly maxSegmentBytes: number,
    private readonly context: () => ScanContext,
  ) {}

  /** 1-based line of the next unconsumed byte. */
  get lineNo(): number {
    return this.line;
  }

  /** Absolute offset of the next unconsumed byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  push(block: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.base += this.buf.length;
      this.buf = block;
    } else {
      this.base += this.pos;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), block]);
    }
    this.pos = 0;
  }

  /** No more blocks: whatever is left must be whole segments or whitespace. */
  end(): void {
    this.ended = true;
  }

  /** The next whole segment, or undefined when more bytes are needed (or, after `end`, when the input is used up). */
  next(): RawSegment | undefined {
    const betweenInterchanges = this.delimiters === undefined;
    if (this.atStart) this.skipBom();
    this.skipWhile(betweenInterchanges ? isWhitespace : isLineBreak);
    const available = this.buf.length - this.pos;
    if (available === 0) return undefined;
    // Four bytes tell whether an ISA starts here: "ISA" and a delimiter.
    if (available < 4 && !this.ended) return undefined;
    if (this.startsIsa()) return this.readIsa();
    if (betweenInterchanges) {
      // Wait for enough text to quote, so that the message does not depend on where a read block ended.
      if (available <= SNIPPET_BYTES && !this.ended) return undefined;
      this.failNotIsa();
    }
    return this.readSegment();
  }

  private startsIsa(): boolean {
    const b = this.buf;
    const p = this.pos;
    return b.length - p >= 4 && b[p] === 0x49 && b[p + 1] === 0x53 && b[p + 2] === 0x41 && !isAlphanumeric(b[p + 3]!);
  }

  private readIsa(): RawSegment | undefined {
    const available = this.buf.length - this.pos;
    if (available < ISA_LENGTH && !this.ended) return undefined;
    const bytes = this.buf.subarray(this.pos, this.pos + ISA_LENGTH);
    const delimiters = parseIsaDelimiters(bytes, (problem) => this.fail(problem, 'ISA'));
    const text = bytes.toString('latin1', 0, ISA_LENGTH - 1);
    const [id = 'ISA', ...elements] = text.split(delimiters.element);
    const segment: RawSegment = { id, elements, byteOffset: this.offset, line: this.line, delimiters };
    this.consume(ISA_LENGTH);
    this.atStart = false;
    this.delimiters = delimiters;
    this.terminator = delimiters.segment.charCodeAt(0);
    return segment;
  }

  private readSegment(): RawSegment | undefined {
    const start = this.pos;
    const from = Math.max(start, this.searched - this.base);
    const end = this.buf.indexOf(this.terminator, from);
    if (end === -1) {
      this.searched = this.base + this.buf.length;
      if (this.buf.length - start > this.maxSegmentBytes) this.failTooLong();
      if (this.ended) this.failUnterminated();
      return undefined;
    }
    if (end - start > this.maxSegmentBytes) this.failTooLong();
    const text = this.buf.toString('utf8', start, end);
    const [id = '', ...elements] = text.split(this.delimiters!.element);
    const segment: RawSegment = { id, elements, byteOffset: this.offset, line: this.line };
    this.consume(end + 1 - start);
    // After an IEA only whitespace or another ISA may follow; the next ISA brings its own delimiters.
    if (id === 'IEA') this.delimiters = undefined;
    return segment;
  }

  private consume(n: number): void {
    this.line += countLineFeeds(this.buf, this.pos, this.pos + n);
    this.pos += n;
    this.searched = 0;
  }

  private skipWhile(test: (byte: number) => boolean): void {
    let p = this.pos;
    while (p < this.buf.length && test(this.buf[p]!)) p++;
    if (p > this.pos) this.consume(p - this.pos);
  }

  private skipBom(): void {
    const b = this.buf;
    const p = this.pos;
    if (b.length - p < 3) return;
    if (b[p] === 0xef && b[p + 1] === 0xbb && b[p + 2] === 0xbf) this.consume(3);
    this.atStart = false;
  }

  private fail(problem: string, segmentId?: string): never {
    const context = this.context();
    const { where } = context;
    // An ISA between interchanges is segment 1 of the interchange it would start.
    const nextPosition = context.nextPosition ?? (segmentId === 'ISA' ? 1 : undefined);
    const at = nextPosition === undefined ? `byte ${this.offset}` : `segment ${nextPosition}, byte ${this.offset}`;
    let position = where;
    if (nextPosition !== undefined) {
      position += segmentId === undefined ? ` (segment ${nextPosition})` : ` (${segmentId} at segment ${nextPosition})`;
    }
    throw new InputError(`${this.fileName}: ${where}: ${problem} (${at})`, {
      file: this.fileName,
      line: this.line,
      byteOffset: this.offset,
      position,
    });
  }

  private failNotIsa(): never {
    const found = this.snippet();
    if (this.context().where === START_OF_FILE) this.fail(`the file must start with an ISA segment, found ${found}`);
    this.fail(`expected ISA or the end of the file after IEA, found ${found}`);
  }

  private failTooLong(): never {
    const term = JSON.stringify(this.delimiters!.segment);
    this.fail(
      `segment is longer than ${this.maxSegmentBytes} bytes, starting ${this.snippet()}; ` +
        `is the segment terminator ${term} right?`,
    );
  }

  private failUnterminated(): never {
    const term = JSON.stringify(this.delimiters!.segment);
    this.fail(`file ends inside a segment with no terminator ${term}: ${this.snippet()}`);
  }

  /** The next few characters, quoted, for messages. */
  private snippet(): string {
    const text = this.buf.toString('utf8', this.pos, Math.min(this.buf.length, this.pos + SNIPPET_BYTES));
    return JSON.stringify(this.buf.length - this.pos > SNIPPET_BYTES ? `${text}...` : text);
  }
}

/**
 * Reads the delimiters of an ISA given as (up to) its 106 bytes, checking the fixed layout: element separator at
 * position 3, ISA01..ISA15 at their fixed widths, ISA16 (component separator) at 104, segment terminator at 105, and
 * ISA11 as the repetition separator from version 00402. `fail` throws with the problem.
 */
export function parseIsaDelimiters(bytes: Buffer, fail: (problem: string) => never): X12Delimiters {
  const separator = bytes[3]!;
  checkDelimiterByte(separator, 'element separator (ISA position 3)', fail);
  let at = 4;
  for (let i = 0; i < ISA_WIDTHS.length - 1; i++) {
    const width = ISA_WIDTHS[i]!;
    const found = bytes.indexOf(separator, at);
    if (found === at + width) {
      at = found + 1;
      continue;
    }
    const name = `ISA${String(i + 1).padStart(2, '0')}`;
    if (found === -1 && bytes.length < ISA_LENGTH) {
      fail(`file ends inside the ISA segment, after ${bytes.length} of its ${ISA_LENGTH} characters`);
    }
    const actual = found === -1 ? `runs past the end of the ISA` : `is ${found - at} characters`;
    fail(`ISA must be ${ISA_LENGTH} characters with fixed-width elements, but ${name} ${actual}, expected ${width}`);
  }
  if (bytes.length < ISA_LENGTH) {
    fail(`file ends inside the ISA segment, after ${bytes.length} of its ${ISA_LENGTH} characters`);
  }
  const component = bytes[ISA_LENGTH - 2]!;
  const segment = bytes[ISA_LENGTH - 1]!;
  checkDelimiterByte(component, 'component separator (ISA16)', fail);
  checkDelimiterByte(segment, 'segment terminator (ISA position 105)', fail, true);
  const delimiters: Array<[string, number]> = [
    ['element separator', separator],
    ['component separator', component],
    ['segment terminator', segment],
  ];
  const version = bytes.toString('latin1', 84, 89);
  if (!/^\d{5}$/.test(version)) fail(`ISA12 version ${JSON.stringify(version)} is not 5 digits`);
  const repetition = version >= FIRST_VERSION_WITH_REPETITION ? bytes[82]! : undefined;
  if (repetition !== undefined) {
    checkDelimiterByte(repetition, `repetition separator (ISA11, version ${version})`, fail);
    delimiters.push(['repetition separator', repetition]);
  }
  for (let i = 0; i < delimiters.length; i++) {
    for (let j = i + 1; j < delimiters.length; j++) {
      const [a, x] = delimiters[i]!;
      const [b, y] = delimiters[j]!;
      if (x === y) fail(`ISA ${b} ${JSON.stringify(String.fromCharCode(y))} is the same as the ${a}`);
    }
  }
  return {
    element: String.fromCharCode(separator),
    component: String.fromCharCode(component),
    segment: String.fromCharCode(segment),
    ...(repetition !== undefined && { repetition: String.fromCharCode(repetition) }),
  };
}

/** A delimiter must be one ASCII character that cannot occur in data: no letter, digit or space. */
function checkDelimiterByte(byte: number, name: string, fail: (problem: string) => never, lineBreakOk = false): void {
  const shown = JSON.stringify(String.fromCharCode(byte));
  if (byte >= 0x80) fail(`ISA ${name} is not an ASCII character (byte 0x${byte.toString(16)})`);
  if (isAlphanumeric(byte) || byte === 0x20) fail(`ISA ${name} ${shown} is a letter, digit or space`);
  if (!lineBreakOk && (byte === LF || byte === CR)) fail(`ISA ${name} ${shown} is a line break`);
}

function isAlphanumeric(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

function isLineBreak(byte: number): boolean {
  return byte === LF || byte === CR;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function countLineFeeds(buf: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(LF, start); i !== -1 && i < end; i = buf.indexOf(LF, i + 1)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Segments -> transaction sets

interface OpenInterchange {
  control: string;
  senderId: string;
  receiverId: string;
  version: string;
  delimiters: X12Delimiters;
  /** Position of the last segment seen (ISA = 1). */
  position: number;
  groups: number;
  where: string;
}

interface OpenGroup {
  control: string;
  envelope: X12Envelope;
  sets: number;
  where: string;
}

interface OpenSet {
  /** Undefined for a run of segments with no ST before it. */
  setId?: string;
  control?: string;
  segments: X12Segment[];
  count: number;
  byteOffset: number;
  line: number;
  where: string;
  /** The first problem found; the set then becomes an `X12SetError`. */
  problem?: { text: string; at: X12SetError['at'] };
}

/**
 * Keeps the ISA / GS / ST stack and checks it: SE01 against the segments counted, SE02 against ST02, GE01 against
 * the sets, GE02 against GS06, IEA01 against the groups, IEA02 against ISA13. Finished sets and set errors queue up
 * until `drain`.
 */
class EnvelopeTracker {
  private interchange: OpenInterchange | undefined;
  private group: OpenGroup | undefined;
  private set: OpenSet | undefined;
  private lastInterchange: string | undefined;
  private interchanges = 0;
  private readonly ready: Array<X12TransactionSet | X12SetError> = [];

  constructor(
    private readonly fileName: string,
    private readonly maxSegmentsPerSet: number,
  ) {}

  get pending(): boolean {
    return this.ready.length > 0;
  }

  drain(): Array<X12TransactionSet | X12SetError> {
    return this.ready.splice(0);
  }

  context(): ScanContext {
    if (this.interchange === undefined) {
      const where = this.lastInterchange === undefined ? START_OF_FILE : `after interchange ${this.lastInterchange}`;
      return { where };
    }
    return { where: this.where(), nextPosition: this.interchange.position + 1 };
  }

  accept(raw: RawSegment): void {
    if (raw.id === 'ISA') {
      this.startInterchange(raw);
      return;
    }
    const interchange = this.interchange;
    if (interchange === undefined) throw new Error('x12: segment outside an interchange reached the tracker');
    const segment: X12Segment = { id: raw.id, elements: raw.elements, position: ++interchange.position };
    switch (raw.id) {
      case 'GS':
        return this.startGroup(raw, segment, interchange);
      case 'ST':
        return this.startSet(raw, segment);
      case 'SE':
        return this.endSet(raw, segment);
      case 'GE':
        return this.endGroup(raw, segment, interchange);
      case 'IEA':
        return this.endInterchange(raw, segment, interchange);
      default:
        return this.addToSet(raw, segment);
    }
  }

  /** End of input at absolute byte `offset` (on 1-based `line`): every envelope must be closed. */
  finish(offset: number, line: number): void {
    if (this.interchange === undefined) {
      if (this.interchanges > 0) return;
      throw new InputError(`${this.fileName}: holds no ISA segment (the file is empty or blank)`, {
        file: this.fileName,
        line,
        byteOffset: offset,
      });
    }
    const missing = [this.set && 'SE', this.group && 'GE', 'IEA'].filter(Boolean).join(', ');
    const where = this.where();
    const position = this.interchange.position;
    throw new InputError(
      `${this.fileName}: ${where}: file ends without ${missing} (after segment ${position}, byte ${offset})`,
      { file: this.fileName, line, byteOffset: offset, position: `${where} (end of file after segment ${position})` },
    );
  }

  private startInterchange(raw: RawSegment): void {
    if (this.interchange !== undefined) {
      const segment = { id: raw.id, elements: raw.elements, position: this.interchange.position + 1 };
      this.fail(raw, segment, 'another ISA starts before IEA closes this interchange');
    }
    const el = raw.elements;
    const control = (el[12] ?? '').trim();
    this.interchange = {
      control,
      senderId: (el[5] ?? '').trim(),
      receiverId: (el[7] ?? '').trim(),
      version: el[11] ?? '',
      delimiters: raw.delimiters!,
      position: 1,
      groups: 0,
      where: `interchange ${control}`,
    };
    this.interchanges++;
  }

  private startGroup(raw: RawSegment, segment: X12Segment, interchange: OpenInterchange): void {
    if (this.group !== undefined) this.fail(raw, segment, `GS starts before GE closes group ${this.group.control}`);
    const control = segment.elements[5] ?? '';
    if (control === '') this.fail(raw, segment, 'GS06 (group control number) is missing');
    this.group = {
      control,
      sets: 0,
      where: `${interchange.where} / group ${control}`,
      envelope: {
        interchangeControl: interchange.control,
        senderId: interchange.senderId,
        receiverId: interchange.receiverId,
        version: interchange.version,
        groupControl: control,
        functionalId: segment.elements[0] ?? '',
        groupVersion: segment.elements[7] ?? '',
      },
    };
  }

  private startSet(raw: RawSegment, segment: X12Segment): void {
    const group = this.requireGroup(raw, segment);
    this.closeBrokenSet(raw, segment, 'transaction set has no SE before the next ST');
    const [setId = '', control = ''] = segment.elements;
    group.sets++;
    this.set = {
      setId,
      control,
      segments: [segment],
      count: 1,
      byteOffset: raw.byteOffset,
      line: raw.line,
      where: `${group.where} / set ${control || '?'}`,
    };
    if (setId === '' || control === '') {
      this.setProblem(this.set, raw, segment, 'ST01 (transaction set id) and ST02 (control number) are required');
    }
  }

  private addToSet(raw: RawSegment, segment: X12Segment): void {
    const group = this.requireGroup(raw, segment);
    let set = this.set;
    if (set === undefined) {
      // Segments with no ST before them: one quarantined run, up to the next SE (inclusive), ST or GE.
      set = this.set = {
        segments: [],
        count: 0,
        byteOffset: raw.byteOffset,
        line: raw.line,
        where: `${group.where} / no ST`,
      };
      this.setProblem(set, raw, segment, `${describeId(raw.id)} is not inside a transaction set: no ST before it`);
    } else if (!SEGMENT_ID.test(raw.id)) {
      this.setProblem(set, raw, segment, `${describeId(raw.id)} is not a valid segment id`);
    }
    this.append(set, raw, segment);
  }

  private endSet(raw: RawSegment, segment: X12Segment): void {
    const group = this.requireGroup(raw, segment);
    if (this.set === undefined) {
      this.set = {
        segments: [],
        count: 0,
        byteOffset: raw.byteOffset,
        line: raw.line,
        where: `${group.where} / no ST`,
      };
      this.setProblem(this.set, raw, segment, 'SE is not inside a transaction set: no ST before it');
    }
    const set = this.set;
    this.append(set, raw, segment);
    this.set = undefined;
    if (set.setId === undefined) {
      // A run with no ST that ends at an SE was meant as a set: GE01 counts it.
      group.sets++;
      set.control = segment.elements[1] || undefined;
    } else {
      this.checkSe(set, raw, segment);
    }
    this.ready.push(set.problem === undefined ? this.toSet(set, group) : this.toError(set, group));
  }

  private endGroup(raw: RawSegment, segment: X12Segment, interchange: OpenInterchange): void {
    const group = this.group;
    if (group === undefined) this.fail(raw, segment, 'GE without a GS');
    this.closeBrokenSet(raw, segment, 'transaction set has no SE before GE');
    const [count = '', control = ''] = segment.elements;
    if (!/^\d+$/.test(count)) this.fail(raw, segment, `GE01 ${JSON.stringify(count)} is not a count`);
    if (Number(count) !== group.sets) {
      this.fail(raw, segment, `GE01 says ${count} transaction sets, counted ${group.sets}`);
    }
    if (!sameControl(control, group.control)) {
      this.fail(raw, segment, `GE02 control number ${JSON.stringify(control)} does not match GS06 "${group.control}"`);
    }
    this.group = undefined;
    interchange.groups++;
  }

  private endInterchange(raw: RawSegment, segment: X12Segment, interchange: OpenInterchange): void {
    if (this.group !== undefined) this.fail(raw, segment, `IEA comes before GE closes group ${this.group.control}`);
    const [count = '', control = ''] = segment.elements;
    if (!/^\d+$/.test(count)) this.fail(raw, segment, `IEA01 ${JSON.stringify(count)} is not a count`);
    if (Number(count) !== interchange.groups) {
      this.fail(raw, segment, `IEA01 says ${count} functional groups, counted ${interchange.groups}`);
    }
    if (!sameControl(control, interchange.control)) {
      this.fail(
        raw,
        segment,
        `IEA02 control number ${JSON.stringify(control)} does not match ISA13 "${interchange.control}"`,
      );
    }
    this.interchange = undefined;
    this.lastInterchange = interchange.control;
  }

  /** SE01 must count ST..SE inclusive; SE02 must repeat ST02 exactly (both are AN, so no numeric leniency). */
  private checkSe(set: OpenSet, raw: RawSegment, segment: X12Segment): void {
    const [count = '', control = ''] = segment.elements;
    if (!/^\d+$/.test(count)) {
      this.setProblem(set, raw, segment, `SE01 ${JSON.stringify(count)} is not a segment count`);
    } else if (Number(count) !== set.count) {
      this.setProblem(set, raw, segment, `SE01 says ${count} segments, counted ${set.count}`);
    } else if (control !== set.control) {
      this.setProblem(
        set,
        raw,
        segment,
        `SE02 control number ${JSON.stringify(control)} does not match ST02 "${set.control}"`,
      );
    }
  }

  /** An open set (or run with no ST) is cut short by an ST or GE: it becomes an error, queued before what follows. */
  private closeBrokenSet(raw: RawSegment, segment: X12Segment, problem: string): void {
    const set = this.set;
    if (set === undefined) return;
    this.set = undefined;
    this.setProblem(set, raw, segment, problem);
    this.ready.push(this.toError(set, this.group!));
  }

  private append(set: OpenSet, raw: RawSegment, segment: X12Segment): void {
    set.count++;
    if (set.count > this.maxSegmentsPerSet && set.problem === undefined) {
      this.setProblem(set, raw, segment, `transaction set has more than ${this.maxSegmentsPerSet} segments`);
    }
    // A set that is already an error keeps no segments, so a runaway set costs no memory.
    if (set.problem === undefined) set.segments.push(segment);
    else set.segments.length = 0;
  }

  private setProblem(set: OpenSet, raw: RawSegment, segment: X12Segment, text: string): void {
    set.problem ??= {
      text,
      at: { segmentId: raw.id, position: segment.position, byteOffset: raw.byteOffset, line: raw.line },
    };
  }

  private requireGroup(raw: RawSegment, segment: X12Segment): OpenGroup {
    if (this.group === undefined) {
      this.fail(raw, segment, `${describeId(raw.id)} is outside a functional group: no GS before it`);
    }
    return this.group;
  }

  private toSet(set: OpenSet, group: OpenGroup): X12TransactionSet {
    const { delimiters } = this.interchange!;
    return {
      kind: 'set',
      setId: set.setId!,
      control: set.control!,
      envelope: group.envelope,
      segments: set.segments,
      byteOffset: set.byteOffset,
      line: set.line,
      where: set.where,
      componentSeparator: delimiters.component,
      ...(delimiters.repetition !== undefined && { repetitionSeparator: delimiters.repetition }),
    };
  }

  private toError(set: OpenSet, group: OpenGroup): X12SetError {
    const { text, at } = set.problem!;
    return {
      kind: 'error',
      message: `${this.fileName}: ${set.where}: ${text} (segment ${at.position}, byte ${at.byteOffset})`,
      ...(set.setId !== undefined && set.setId !== '' && { setId: set.setId }),
      ...(set.control !== undefined && set.control !== '' && { control: set.control }),
      envelope: group.envelope,
      byteOffset: set.byteOffset,
      line: set.line,
      where: set.where,
      at,
    };
  }

  /** The innermost open envelope, as a person reads it. */
  private where(): string {
    return this.set?.where ?? this.group?.where ?? this.interchange?.where ?? START_OF_FILE;
  }

  private fail(raw: RawSegment, segment: X12Segment, problem: string): never {
    const where = this.where();
    throw new InputError(
      `${this.fileName}: ${where}: ${problem} (segment ${segment.position}, byte ${raw.byteOffset})`,
      {
        file: this.fileName,
        line: raw.line,
        byteOffset: raw.byteOffset,
        position: `${where} (${describeId(raw.id)} at segment ${segment.position})`,
      },
    );
  }
}

/**
 * GS06/GE02 and ISA13/IEA02 are numeric (N0): equal as text, or as numbers when both are digits, so that a sender's
 * `1` and `000000001` match. ST02/SE02 are alphanumeric and compared exactly elsewhere.
 */
function sameControl(a: string, b: string): boolean {
  if (a === b) return true;
  return /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) === BigInt(b);
}

function describeId(id: string): string {
  return id === '' ? 'an empty segment' : SEGMENT_ID.test(id) ? id : JSON.stringify(id);
}
