/**
 * XML format layer: streams a file and yields its documents (an invoice, a credit note) one at a time, each as a small
 * element tree. Generic: knows XML 1.0 with namespaces and nothing about UBL or any profile.
 *
 * Safety comes first, because XML files arrive from outside:
 * - No DTDs at all. A `<!DOCTYPE` is rejected by a prolog check on the decoded text *before* saxes sees it, so no
 *   entity can be defined, let alone expanded (billion laughs) or fetched (`SYSTEM "file:///etc/passwd"`). saxes never
 *   expands anything but the five predefined entities and character references; any other `&name;` is an error.
 * - Bounded memory: only the current document's tree is built, and it is released once yielded; a file of 100,000
 *   invoices is never held. Size caps apply to each document, to any stretch of text between events outside documents,
 *   and to the prolog, so a runaway text node, comment or attribute list fails after at most one read buffer more.
 * - Depth and attribute-count caps, and an optional file-size cap.
 *
 * Encodings: the XML declaration is honoured for UTF-8 and US-ASCII (decoded as UTF-8) and for ISO-8859-1, Latin-1
 * and windows-1252 (decoded as windows-1252, as the WHATWG Encoding Standard and every browser do: the two differ only
 * in 0x80-0x9F, which ISO-8859-1 spends on C1 control characters no invoice means). Anything else (UTF-16, other
 * single-byte code pages) is rejected with a clear error rather than misread. Without a declared encoding or BOM the
 * text is UTF-8 (the XML default) unless the caller says windows-1252. Invalid UTF-8 is an error located at its byte,
 * line and column: XML makes encoding errors fatal, and a silently replaced character in an invoice is worse than a
 * rejected file.
 *
 * Lines are 1-based; columns are 1-based and count characters (code points), as saxes does.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { TextDecoder } from 'node:util';
import { SaxesParser } from 'saxes';
import type { SaxesTagNS, SaxesStartTagNS } from 'saxes';
import { InputError } from '../profiles/types.ts';

export interface XmlElement {
  /** Local name (without prefix). */
  name: string;
  /** Namespace URI, '' if none. */
  ns: string;
  /** Prefix as written in the file, absent for the default namespace. */
  prefix?: string;
  /**
   * Attributes by local name; namespace declarations are left out. When two attributes share a local name in
   * different namespaces, the one without a namespace wins, else the first one.
   */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated direct text and CDATA, trimmed. */
  text: string;
  /** Line and column of the element's `<`. */
  line: number;
  column: number;
}

export interface XmlDocument {
  element: XmlElement;
  /** 1-based document number in the file. */
  index: number;
  /** Line and column of the document element's `<`. */
  line: number;
  column: number;
  /** Where the document is, as a person reads it: `/Invoices/Invoice[3]`; the root alone is `/Invoice`. */
  position: string;
  /**
   * Byte range of the document element in the file, from its `<` to just past its end tag: lets a planner size
   * chunks. The bytes alone do not parse: namespace prefixes may be declared on a wrapper element.
   */
  byteStart: number;
  byteEnd: number;
}

export interface XmlReadOptions {
  /**
   * Local names that start a document, e.g. `['Invoice', 'CreditNote']`. When the root element has one of these
   * names it is the file's one document; otherwise the root is a wrapper and each of its children with one of these
   * names is a document. Unset: the root element is the document.
   */
  documentElements?: string[];
  /**
   * Local names of wrapper children that are skipped (a batch header, say). Any other child of a wrapper that is not
   * a document element is an error rather than silently dropped: a misspelt or mis-namespaced invoice must not vanish.
   */
  ignoreElements?: string[];
  /** Characters of decoded text per document at most (about bytes, for mostly-ASCII XML). Default 16 MiB. */
  maxDocumentBytes?: number;
  /** Element nesting depth at most, counting the root as 1. Default 64. */
  maxDepth?: number;
  /** File size at most, in bytes. Default: no limit. */
  maxFileBytes?: number;
  /** Attributes (namespace declarations included) per element at most. Default 256. */
  maxAttributes?: number;
  /**
   * Encoding when the file has neither a BOM nor an XML declaration naming one. Default 'utf-8', the XML default.
   */
  encoding?: 'utf-8' | 'windows-1252';
  /**
   * 1-based number of the first document to yield. Earlier documents are still parsed and checked but no tree is
   * built: a chunk reader can skip to its documents cheaply. Default 1.
   */
  firstDocument?: number;
}

/** An `InputError` that also carries the column, for callers and tests that want it as a number. */
export class XmlInputError extends InputError {
  constructor(
    message: string,
    location: { file: string; line?: number; byteOffset?: number; position?: string },
    readonly column?: number,
  ) {
    super(message, location);
  }
}

const DEFAULT_MAX_DOCUMENT_CHARS = 16 << 20;
const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_ATTRIBUTES = 256;
/** Declarations, comments and processing instructions before the root element: generous, but not a place for data. */
const MAX_PROLOG_CHARS = 1 << 20;
/** Enough to hold any sane XML declaration, read before choosing a decoder. */
const SNIFF_BYTES = 1024;
const READ_BUFFER_BYTES = 1 << 16;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

type Encoding = 'utf-8' | 'windows-1252';

/**
 * Streams `file` and yields its documents in file order (see `XmlReadOptions.documentElements`). `fileName` is the
 * name errors show. Throws `InputError` (an `XmlInputError`) naming file, line, column and position for a DOCTYPE,
 * malformed XML, an undefined entity, a cap exceeded, an unsupported encoding or invalid UTF-8. Documents completed in
 * the same read buffer as a fatal error are not yielded.
 */
export async function* readXmlDocuments(
  file: string,
  fileName: string,
  options: XmlReadOptions = {},
): AsyncGenerator<XmlDocument> {
  const maxFileBytes = options.maxFileBytes ?? Infinity;
  const limits = {
    maxDocumentChars: options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_CHARS,
    maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
    maxAttributes: options.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES,
    firstDocument: options.firstDocument ?? 1,
  };
  if (!(limits.maxDocumentChars >= 1 && limits.maxDepth >= 1 && limits.maxAttributes >= 0 && maxFileBytes >= 0)) {
    throw new RangeError(`XML read limits must be positive, got ${JSON.stringify(options)}`);
  }
  const { size } = await stat(file);
  if (size > maxFileBytes) {
    throw new XmlInputError(`${fileName}: the file is ${size} bytes, more than the limit of ${maxFileBytes}`, {
      file: fileName,
    });
  }

  const reader = new DocumentReader(fileName, {
    ...limits,
    documentElements: options.documentElements,
    ignoreElements: options.ignoreElements ?? [],
  });
  let decoder: TextDecoder | undefined;
  let head: Buffer[] = [];
  let headBytes = 0;
  let bytesRead = 0;

  const start = (): void => {
    const bytes = Buffer.concat(head);
    head = [];
    const { encoding, bom } = sniffEncoding(bytes, fileName, options.encoding ?? 'utf-8');
    decoder = new TextDecoder(encoding, { fatal: true });
    reader.begin(encoding, bom);
    feed(bytes);
  };
  const feed = (bytes: Buffer | undefined): void => {
    let text: string;
    try {
      text = bytes === undefined ? decoder!.decode() : decoder!.decode(bytes, { stream: true });
    } catch (err) {
      if (err instanceof TypeError) throw new Utf8Error();
      throw err;
    }
    if (text !== '') reader.write(text);
  };

  try {
    for await (const chunk of createReadStream(file, { highWaterMark: READ_BUFFER_BYTES })) {
      const buf = chunk as Buffer;
      bytesRead += buf.length;
      if (bytesRead > maxFileBytes) {
        throw new XmlInputError(`${fileName}: the file is longer than the limit of ${maxFileBytes} bytes`, {
          file: fileName,
          byteOffset: maxFileBytes,
        });
      }
      if (decoder === undefined) {
        head.push(buf);
        headBytes += buf.length;
        if (headBytes < SNIFF_BYTES) continue;
        start();
      } else {
        feed(buf);
      }
      yield* reader.take();
    }
    if (decoder === undefined) start();
    feed(undefined);
    reader.close();
    yield* reader.take();
  } catch (err) {
    if (err instanceof Utf8Error) throw await locateInvalidUtf8(file, fileName);
    throw err;
  }
}

/** The direct children of `el` with local name `localName`, in any namespace. */
export function children(el: XmlElement, localName: string): XmlElement[] {
  return el.children.filter((c) => c.name === localName);
}

/** Follows first children by local names (`child(party, 'PostalAddress', 'Country')`); undefined when a step is missing. */
export function child(el: XmlElement, ...localNamesPath: string[]): XmlElement | undefined {
  let at: XmlElement | undefined = el;
  for (const name of localNamesPath) {
    at = at.children.find((c) => c.name === name);
    if (at === undefined) return undefined;
  }
  return at;
}

/** Text of the element reached by `child(el, ...localNamesPath)`; undefined when a step is missing. */
export function childText(el: XmlElement, ...localNamesPath: string[]): string | undefined {
  return child(el, ...localNamesPath)?.text;
}

interface ReaderLimits {
  maxDocumentChars: number;
  maxDepth: number;
  maxAttributes: number;
  firstDocument: number;
  documentElements: string[] | undefined;
  ignoreElements: string[];
}

/** One open element. `el` is set inside a document that is being built. */
interface Frame {
  local: string;
  /** 1-based index among same-named siblings, 0 for the root (which is shown without one). */
  index: number;
  /** Children seen so far by local name, for their indexes; created on the first child. */
  counts: Map<string, number> | undefined;
  el: XmlElement | undefined;
  kind: 'wrapper' | 'document' | 'inside' | 'skipped';
}

/** Where an element's `<` is, recorded at `opentagstart` and used at `opentag`. */
interface TagStart {
  line: number;
  column: number;
  /** Character index of the `<` in the decoded stream. */
  pos: number;
}

/** Decoded text already written to saxes, kept so character positions can be turned into lines, columns and bytes. */
interface Piece {
  text: string;
  charStart: number;
  byteStart: number;
}

/**
 * Drives saxes over decoded text and builds the current document's tree. `write` runs saxes synchronously; finished
 * documents wait in a queue that the generator drains after each write.
 */
class DocumentReader {
  private readonly parser = new SaxesParser({ xmlns: true, position: true });
  private readonly stack: Frame[] = [];
  private readonly queue: XmlDocument[] = [];
  private readonly documentNames: Set<string> | undefined;
  private readonly ignoreNames: Set<string>;
  private readonly prolog: PrologGuard;
  private encoding: Encoding = 'utf-8';
  /** The last two pieces of decoded text: a `<` found at `opentagstart` may lie in the one before. */
  private pieces: Piece[] = [];
  private charsWritten = 0;
  private bytesWritten = 0;
  /** Incremental char -> byte cursor, moved forward only (document boundaries come in order). */
  private cursor = { piece: undefined as Piece | undefined, chars: 0, bytes: 0 };
  private docCount = 0;
  /** Stack index of the open document element, -1 outside documents. */
  private docDepth = -1;
  /** The open (or last) document element: where it starts, for its `XmlDocument` and the size cap. */
  private docStart: TagStart & { byteStart: number; position: string } = {
    line: 0,
    column: 0,
    pos: 0,
    byteStart: 0,
    position: '',
  };
  private tagStart: TagStart = { line: 0, column: 0, pos: 0 };
  /** The element the last end tag closed, for the message when that end tag turns out not to match it. */
  private lastClosed: { name: string; frame: Frame } | undefined;
  /** Character position of the last parser event: bounds text, comments and tags between events outside documents. */
  private lastEventPos = 0;

  constructor(
    private readonly fileName: string,
    private readonly limits: ReaderLimits,
  ) {
    this.documentNames = limits.documentElements === undefined ? undefined : new Set(limits.documentElements);
    this.ignoreNames = new Set(limits.ignoreElements);
    this.prolog = new PrologGuard(fileName);
    const p = this.parser;
    p.on('error', (err) => this.failSaxes(err.message));
    // Unreachable while the prolog guard works; kept so that a DOCTYPE can never slip through.
    p.on('doctype', () => this.fail('DOCTYPE declarations are not allowed (no DTDs, no entity definitions)'));
    p.on('xmldecl', (decl) => this.checkDeclaredEncoding(decl.encoding));
    p.on('opentagstart', (tag) => this.onOpenTagStart(tag));
    p.on('opentag', (tag) => this.onOpenTag(tag));
    p.on('closetag', (tag) => this.onCloseTag(tag));
    p.on('text', (text) => this.onText(text));
    p.on('cdata', (text) => this.onText(text));
    p.on('comment', () => this.event());
    p.on('processinginstruction', () => this.event());
  }

  /** Called once the encoding is known; `bom` is the number of BOM bytes the decoder swallows. */
  begin(encoding: Encoding, bom: number): void {
    this.encoding = encoding;
    this.bytesWritten = bom;
  }

  write(text: string): void {
    this.prolog.feed(text);
    const piece = { text, charStart: this.charsWritten, byteStart: this.bytesWritten };
    this.pieces = [this.pieces[this.pieces.length - 1], piece].filter((p): p is Piece => p !== undefined);
    this.charsWritten += text.length;
    this.bytesWritten += this.byteLength(text);
    this.parser.write(text);
    this.checkSizes();
  }

  close(): void {
    this.prolog.end();
    this.parser.close();
  }

  /** Documents finished since the last call; the reader keeps no reference to them. */
  take(): XmlDocument[] {
    return this.queue.splice(0);
  }

  private onOpenTagStart(tag: SaxesStartTagNS): void {
    const p = this.parser;
    this.event();
    // saxes has consumed the name and the character after it. That character is a space, `>` or `/` on the same
    // line, except when a line break follows the name: then the `<` is on the line before.
    const lt = this.lastIndexBefore('<', p.position);
    const pos = lt === -1 ? p.position - tag.name.length - 2 : lt;
    let { line } = p;
    let column = p.column - codePoints(tag.name) - 1;
    if (p.column === 0) {
      line--;
      column = pos - this.lineStartBefore(pos) + 1;
    }
    this.tagStart = { line, column, pos };
    if (this.stack.length + 1 > this.limits.maxDepth) {
      this.fail(`elements are nested more than ${this.limits.maxDepth} deep`, this.tagStart);
    }
  }

  private onOpenTag(tag: SaxesTagNS): void {
    this.event();
    const { stack, limits } = this;
    const attrNames = Object.keys(tag.attributes);
    if (attrNames.length > limits.maxAttributes) {
      this.fail(
        `element <${tag.name}> has ${attrNames.length} attributes, more than the limit of ${limits.maxAttributes}`,
      );
    }
    const parent = stack[stack.length - 1];
    let index = 0;
    if (parent !== undefined) {
      parent.counts ??= new Map();
      index = (parent.counts.get(tag.local) ?? 0) + 1;
      parent.counts.set(tag.local, index);
    }
    const at = this.tagStart;
    let kind: Frame['kind'];
    if (parent === undefined) {
      const isDocument = this.documentNames === undefined || this.documentNames.has(tag.local);
      kind = isDocument ? 'document' : 'wrapper';
    } else if (parent.kind === 'wrapper') {
      if (this.documentNames?.has(tag.local) === true) kind = 'document';
      else if (this.ignoreNames.has(tag.local)) kind = 'skipped';
      else {
        const expected = [...(this.documentNames ?? [])].join(' or ');
        this.fail(
          `unexpected element <${tag.name}> in <${parent.local}>: expected ${expected}` +
            (this.ignoreNames.size > 0 ? ` or one of the ignored elements ${[...this.ignoreNames].join(', ')}` : ''),
          at,
        );
      }
    } else {
      kind = parent.kind === 'skipped' ? 'skipped' : 'inside';
    }

    let el: XmlElement | undefined;
    if (kind === 'document') {
      this.docCount++;
      this.docDepth = stack.length;
      this.docStart = { ...at, byteStart: this.byteAt(at.pos), position: this.pathWith(tag.local, index) };
      // Documents before `firstDocument` are parsed and checked, but no tree is built.
      if (this.docCount >= limits.firstDocument) el = makeElement(tag, at);
    } else if (kind === 'inside' && parent?.el !== undefined) {
      el = makeElement(tag, at);
      parent.el.children.push(el);
    }
    stack.push({ local: tag.local, index, counts: undefined, el, kind });
  }

  private onCloseTag(tag: SaxesTagNS): void {
    this.event();
    const frame = this.stack.pop();
    if (frame === undefined) return;
    // saxes pops the open element before it finds that the end tag does not match; the error message names it.
    this.lastClosed = { name: tag.name, frame };
    if (frame.el !== undefined) frame.el.text = frame.el.text.trim();
    if (frame.kind !== 'document') return;
    this.docDepth = -1;
    if (frame.el === undefined) return;
    const d = this.docStart;
    this.queue.push({
      element: frame.el,
      index: this.docCount,
      line: d.line,
      column: d.column,
      position: d.position,
      byteStart: d.byteStart,
      byteEnd: this.byteAt(this.parser.position),
    });
  }

  private onText(text: string): void {
    this.event();
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return;
    if (top.el !== undefined) top.el.text += text;
    else if (top.kind === 'wrapper' && text.trim() !== '') {
      this.fail(
        `unexpected text ${JSON.stringify(text.trim().slice(0, 40))} between documents in <${top.local}>`,
        this.textStart(text),
      );
    }
  }

  /**
   * Where the non-blank part of `text` (just ended by a `<`) starts, when the text itself shows it: after a line
   * break inside it. Otherwise where it ends. Counts in the text as saxes delivers it (line breaks normalized).
   */
  private textStart(text: string): { line: number; column: number } {
    const s = text.search(/\S/);
    const nl = text.lastIndexOf('\n', s);
    if (nl === -1) return this.parser;
    const after = text.slice(s).split('\n').length - 1;
    return { line: this.parser.line - after, column: codePoints(text.slice(nl + 1, s)) + 1 };
  }

  /** Every parser event: checks the size caps, then marks the position. */
  private event(): void {
    this.checkSizes();
    this.lastEventPos = this.parser.position;
  }

  /**
   * Caps on a document's size and on text between events outside documents. Checked at each event and after each
   * write (a single text node may span many writes), so they overshoot by at most one read buffer.
   */
  private checkSizes(): void {
    const pos = this.parser.position;
    const max = this.limits.maxDocumentChars;
    if (this.docDepth >= 0 && pos - this.docStart.pos > max) {
      const d = this.docStart;
      throw new XmlInputError(
        `${this.fileName}: line ${d.line}, column ${d.column} (${d.position}): document is larger than the limit of ` +
          `${max} characters`,
        { file: this.fileName, line: d.line, position: d.position },
        d.column,
      );
    }
    if (this.docDepth < 0 && pos - this.lastEventPos > max) {
      this.fail(`more than ${max} characters without markup outside any document`);
    }
  }

  private checkDeclaredEncoding(declared: string | undefined): void {
    if (declared === undefined) return;
    const encoding = encodingFor(declared);
    if (encoding !== this.encoding) {
      this.fail(`the XML declaration names encoding "${declared}", which this reader does not decode`);
    }
  }

  /** saxes messages start with `line:column: `; ours give the file and position too. */
  private failSaxes(message: string): never {
    const text = message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
    const closed = this.lastClosed;
    if (text === 'unexpected close tag' && closed !== undefined) {
      this.stack.push(closed.frame);
      this.fail(`malformed XML: the end tag does not match the open element <${closed.name}>`);
    }
    const hint = SAXES_HINTS[text];
    this.fail(`malformed XML: ${text}${hint === undefined ? '' : ` (${hint})`}`);
  }

  private fail(message: string, where: { line: number; column: number } = this.parser): never {
    // saxes's column is that of the next character, 0-based: the 1-based column of the one that failed.
    const at = { line: where.line, column: Math.max(1, where.column) };
    const position = this.stack.length > 0 ? this.path() : undefined;
    throw new XmlInputError(
      `${this.fileName}: line ${at.line}, column ${at.column}${position === undefined ? '' : ` (${position})`}: ${message}`,
      { file: this.fileName, line: at.line, ...(position === undefined ? {} : { position }) },
      at.column,
    );
  }

  /** `/Invoices/Invoice[3]/InvoiceLine[2]`: the open elements, the root without an index. */
  private path(): string {
    return this.stack.map((f) => (f.index === 0 ? `/${f.local}` : `/${f.local}[${f.index}]`)).join('');
  }

  private pathWith(local: string, index: number): string {
    return this.path() + (index === 0 ? `/${local}` : `/${local}[${index}]`);
  }

  private byteLength(text: string): number {
    return this.encoding === 'utf-8' ? Buffer.byteLength(text, 'utf8') : text.length;
  }

  /** Byte offset of the character at `pos` in the decoded stream (within the last two pieces). */
  private byteAt(pos: number): number {
    const piece = this.pieces.findLast((p) => p.charStart <= pos) ?? this.pieces[0];
    if (piece === undefined) return 0;
    const c = this.cursor;
    if (c.piece !== piece || c.chars > pos - piece.charStart) {
      c.piece = piece;
      c.chars = 0;
      c.bytes = 0;
    }
    const to = Math.min(pos - piece.charStart, piece.text.length);
    c.bytes += this.byteLength(piece.text.slice(c.chars, to));
    c.chars = to;
    return piece.byteStart + c.bytes + (pos - piece.charStart - to);
  }

  /** Stream index of the last `c` before `pos` in the kept text, -1 when there is none. */
  private lastIndexBefore(c: string, pos: number): number {
    for (let i = this.pieces.length - 1; i >= 0; i--) {
      const p = this.pieces[i]!;
      if (p.charStart >= pos) continue;
      const k = p.text.lastIndexOf(c, pos - p.charStart - 1);
      if (k !== -1) return p.charStart + k;
    }
    return -1;
  }

  /** Stream index where the line holding `pos` starts, as far back as the kept text reaches. */
  private lineStartBefore(pos: number): number {
    const k = Math.max(this.lastIndexBefore('\n', pos), this.lastIndexBefore('\r', pos));
    return k === -1 ? (this.pieces[0]?.charStart ?? 0) : k + 1;
  }
}

/** Clearer words for the saxes messages a user of this reader is likely to meet. */
const SAXES_HINTS: Record<string, string> = {
  'undefined entity':
    'only &amp; &lt; &gt; &quot; &apos; and numeric character references are allowed; there are no DTDs',
  'text data outside of root node': 'the file must hold exactly one root element and nothing after it but comments',
  'documents may contain only one root': 'the file must hold exactly one root element',
};

function makeElement(tag: SaxesTagNS, at: TagStart): XmlElement {
  const attrs: Record<string, string> = {};
  const namespaced: [string, string][] = [];
  for (const attr of Object.values(tag.attributes)) {
    if (attr.uri === XMLNS_NAMESPACE || attr.name === 'xmlns') continue;
    if (attr.uri === '') defineAttr(attrs, attr.local, attr.value);
    else namespaced.push([attr.local, attr.value]);
  }
  for (const [local, value] of namespaced) {
    if (!Object.prototype.hasOwnProperty.call(attrs, local)) defineAttr(attrs, local, value);
  }
  const el: XmlElement = {
    name: tag.local,
    ns: tag.uri,
    attrs,
    children: [],
    text: '',
    line: at.line,
    column: at.column,
  };
  if (tag.prefix !== '') el.prefix = tag.prefix;
  return el;
}

/** `attrs[name] = value` that also works for an attribute called `__proto__`. */
function defineAttr(attrs: Record<string, string>, name: string, value: string): void {
  Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
}

function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(c >= 0xdc00 && c <= 0xdfff)) n++;
  }
  return n;
}

/**
 * Watches the decoded text before the root element and rejects a DOCTYPE as soon as its `<!DOCTYPE` is seen, before
 * saxes reads it. Before the root, XML allows only whitespace, the XML declaration, comments, processing instructions
 * and the DOCTYPE, so a small scanner that skips the first three finds it reliably. Anything else (the root's `<`, or
 * text saxes will reject) ends the watch. Holds at most `MAX_PROLOG_CHARS` of text.
 */
class PrologGuard {
  private text = '';
  private at = 0;
  private done = false;

  constructor(private readonly fileName: string) {}

  feed(chunk: string): void {
    if (this.done) return;
    this.text += chunk;
    const { text } = this;
    for (;;) {
      while (this.at < text.length && ' \t\r\n\uFEFF'.includes(text[this.at]!)) this.at++;
      if (this.at >= text.length) break;
      if (text[this.at] !== '<') return this.finish();
      const rest = text.slice(this.at, this.at + 9);
      const upper = rest.toUpperCase();
      let close = -1;
      if (rest.startsWith('<?')) {
        close = text.indexOf('?>', this.at + 2);
        if (close !== -1) close += 2;
      } else if (rest.startsWith('<!--')) {
        close = text.indexOf('-->', this.at + 4);
        if (close !== -1) close += 3;
      } else if (upper === '<!DOCTYPE') {
        this.failDoctype();
      } else if (!(rest.length < 9 && ('<!DOCTYPE'.startsWith(upper) || '<!--'.startsWith(rest)))) {
        return this.finish();
      }
      if (close === -1) break; // the construct goes on in text not read yet
      this.at = close;
    }
    if (text.length > MAX_PROLOG_CHARS) this.failTooLong();
  }

  /** End of input: a prolog still open is left for saxes to report (no root, unclosed comment). */
  end(): void {
    this.finish();
  }

  private finish(): void {
    if (this.at > MAX_PROLOG_CHARS) this.failTooLong();
    this.done = true;
    this.text = '';
  }

  private failTooLong(): never {
    throw new XmlInputError(
      `${this.fileName}: line 1, column 1: more than ${MAX_PROLOG_CHARS} characters of declarations and comments ` +
        `before the root element`,
      { file: this.fileName, line: 1 },
      1,
    );
  }

  private failDoctype(): never {
    const { line, column } = lineColumn(this.text, this.at);
    throw new XmlInputError(
      `${this.fileName}: line ${line}, column ${column}: DOCTYPE declarations are not allowed: ` +
        `no DTDs, entity definitions or external entities are read`,
      { file: this.fileName, line },
      column,
    );
  }
}

/** 1-based line and column (in characters) of `index` in `text`; CRLF and lone CR end lines, as in XML. */
function lineColumn(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < index; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: codePoints(text.slice(lineStart, index)) + 1 };
}

/**
 * Chooses the decoder from the file's first bytes: a BOM, else the XML declaration's encoding, else `fallback`.
 * Returns the number of BOM bytes the decoder will swallow.
 */
function sniffEncoding(head: Buffer, fileName: string, fallback: Encoding): { encoding: Encoding; bom: number } {
  const at = (line: number, column: number, message: string): XmlInputError =>
    new XmlInputError(`${fileName}: line ${line}, column ${column}: ${message}`, { file: fileName, line }, column);
  const b0 = head[0];
  const b1 = head[1];
  if (
    (b0 === 0xfe && b1 === 0xff) ||
    (b0 === 0xff && b1 === 0xfe) ||
    (b0 === 0 && b1 === 0x3c) ||
    (b0 === 0x3c && b1 === 0)
  ) {
    throw at(1, 1, 'the file looks like UTF-16, which is not supported; convert it to UTF-8');
  }
  const bom = head.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  const start = head.toString('latin1', bom, Math.min(head.length, SNIFF_BYTES));
  const decl = /^<\?xml[ \t\r\n][^>]*?\bencoding[ \t\r\n]*=[ \t\r\n]*(["'])([^"']*)\1/.exec(start);
  if (decl === null) return { encoding: bom > 0 ? 'utf-8' : fallback, bom };
  const declared = decl[2]!;
  const encoding = encodingFor(declared);
  const column = decl[0].length - declared.length;
  if (encoding === undefined) {
    throw at(
      1,
      column,
      `the XML declaration names encoding "${declared}"; supported are UTF-8, US-ASCII, ISO-8859-1 and windows-1252`,
    );
  }
  if (bom > 0 && encoding !== 'utf-8') {
    throw at(1, column, `the file starts with a UTF-8 byte order mark but declares encoding "${declared}"`);
  }
  return { encoding, bom };
}

function encodingFor(declared: string): Encoding | undefined {
  switch (declared.toLowerCase()) {
    case 'utf-8':
    case 'utf8':
    case 'us-ascii':
    case 'ascii':
      return 'utf-8';
    case 'iso-8859-1':
    case 'iso8859-1':
    case 'iso_8859-1':
    case 'latin1':
    case 'latin-1':
    case 'l1':
    case 'windows-1252':
    case 'cp1252':
      return 'windows-1252';
    default:
      return undefined;
  }
}

/** Thrown by the decoder wrapper so that the generator can locate the bad bytes outside the read loop. */
class Utf8Error extends Error {}

/**
 * Re-reads the file to find the first invalid UTF-8 sequence (the fatal decoder does not say where): an error path,
 * so the second pass is cheap enough. Follows the WHATWG decoder's rules: no overlong forms, no surrogates, nothing
 * above U+10FFFF.
 */
async function locateInvalidUtf8(file: string, fileName: string): Promise<XmlInputError> {
  let offset = 0;
  let line = 1;
  let column = 1;
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  let seqStart = 0;
  let bad: number | undefined;
  scan: for await (const chunk of createReadStream(file, { highWaterMark: READ_BUFFER_BYTES })) {
    const buf = chunk as Buffer;
    const from = offset === 0 && buf.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
    offset += from;
    for (let i = from; i < buf.length; i++) {
      const b = buf[i]!;
      if (need === 0) {
        seqStart = offset;
        if (b < 0x80) {
          if (b === 0x0a) {
            line++;
            column = 1;
          } else {
            column++;
          }
        } else if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          if (b === 0xe0) lo = 0xa0;
          if (b === 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          if (b === 0xf0) lo = 0x90;
          if (b === 0xf4) hi = 0x8f;
        } else {
          bad = offset;
          break scan;
        }
      } else {
        if (b < lo || b > hi) {
          bad = seqStart;
          break scan;
        }
        lo = 0x80;
        hi = 0xbf;
        if (--need === 0) column++;
      }
      offset++;
    }
  }
  if (bad === undefined && need > 0) bad = seqStart;
  return new XmlInputError(
    `${fileName}: line ${line}, column ${column} (byte ${bad ?? offset}): the file is not valid UTF-8; ` +
      `if it is windows-1252 or ISO-8859-1, its XML declaration must say so`,
    { file: fileName, line, byteOffset: bad ?? offset },
    column,
  );
}
