/**
 * A small XLSX writer for tests and generators: one or more worksheets, streamed row by row into a hand-written zip
 * container, so a 500,000-row file is written with bounded memory. Not a general spreadsheet library: no formulas,
 * fonts, widths or merged cells, only what the readers must cope with (strings, numbers, booleans, errors, dates
 * through number formats, sparse cells, hidden sheets, the 1904 date system).
 *
 * The package is the minimal OOXML SpreadsheetML package (ECMA-376 Part 1, 12.2): [Content_Types].xml, _rels/.rels,
 * xl/workbook.xml, xl/_rels/workbook.xml.rels, xl/worksheets/sheetN.xml, plus xl/styles.xml (needed for date
 * formats; Excel also wants one to be present) and, when asked for, xl/sharedStrings.xml. Strings are written inline
 * (`t="inlineStr"`) by default because shared strings must all be held in memory until the end.
 *
 * The zip has no data descriptors and no zip64: each local header is written with placeholder sizes and patched once
 * its entry is written, which every reader accepts; archives over 4 GiB are refused.
 */
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';

/** A cell to write. `null`, `undefined` and `''` leave the cell out. */
export type XlsxCellValue =
  | string
  | number
  | boolean
  | Date
  | null
  | undefined
  /** A number with a number format: a built-in format id (14 is a date) or a custom format code. */
  | { value: number | string; format: number | string }
  /** An error cell such as `#DIV/0!` or `#N/A`. */
  | { error: string };

/** A row: its cells from column A, or an explicit 1-based row number (rows must ascend) with its cells. */
export type XlsxRowInput = readonly XlsxCellValue[] | { rowNo: number; cells: readonly XlsxCellValue[] };

export interface XlsxSheetInput {
  /** Sheet name as Excel shows it: 1-31 characters, none of `[]:*?/\`. */
  name: string;
  rows: Iterable<XlsxRowInput> | AsyncIterable<XlsxRowInput>;
  hidden?: boolean;
}

export interface XlsxWriteOptions {
  /** Write strings to xl/sharedStrings.xml (as Excel does) instead of inline; holds every distinct string in memory. */
  sharedStrings?: boolean;
  /** Use the 1904 date system (old Mac Excel): serial 0 is 1904-01-01. */
  date1904?: boolean;
  /** zlib deflate level, 0-9. Default 6. */
  level?: number;
}

const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG_REL_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';
const XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const MS_PER_DAY = 86_400_000;
/** Flush the sheet XML to the deflater in pieces of about this many characters. */
const SHEET_BATCH_CHARS = 1 << 16;
const FIRST_CUSTOM_FORMAT_ID = 164;
const DATE_FORMAT = 'yyyy-mm-dd';
const DATETIME_FORMAT = 'yyyy-mm-dd hh:mm:ss';

/**
 * Writes an XLSX workbook with the given sheets, pulling rows from each sheet's iterable as it goes. Returns the
 * number of rows written and the file size.
 */
export async function writeXlsx(
  file: string,
  sheets: readonly XlsxSheetInput[],
  options: XlsxWriteOptions = {},
): Promise<{ rows: number; bytes: number }> {
  if (sheets.length === 0) throw new RangeError('an XLSX workbook needs at least one sheet');
  const names = new Set<string>();
  for (const sheet of sheets) {
    checkSheetName(sheet.name);
    // Excel compares sheet names case-insensitively.
    if (names.has(sheet.name.toLowerCase())) throw new RangeError(`duplicate sheet name "${sheet.name}"`);
    names.add(sheet.name.toLowerCase());
  }
  const level = options.level ?? 6;
  const styles = new StyleTable();
  const strings = options.sharedStrings ? new SharedStringTable() : undefined;
  const zip = await ZipWriter.create(file);
  let rows = 0;
  try {
    await zip.add('[Content_Types].xml', contentTypes(sheets.length, strings !== undefined), level);
    await zip.add(
      '_rels/.rels',
      `${XML_DECL}<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
      level,
    );
    await zip.add('xl/workbook.xml', workbookXml(sheets, options.date1904 === true), level);
    await zip.add('xl/_rels/workbook.xml.rels', workbookRels(sheets.length, strings !== undefined), level);
    for (let i = 0; i < sheets.length; i++) {
      const sheet = sheets[i]!;
      const counter = { rows: 0 };
      await zip.addStream(
        `xl/worksheets/sheet${i + 1}.xml`,
        sheetXml(sheet.rows, { styles, strings, date1904: options.date1904 === true, counter }),
        level,
      );
      rows += counter.rows;
    }
    await zip.add('xl/styles.xml', styles.xml(), level);
    if (strings !== undefined) await zip.addStream('xl/sharedStrings.xml', strings.xml(), level);
    const bytes = await zip.close();
    return { rows, bytes };
  } catch (err) {
    await zip.abort();
    throw err;
  }
}

function checkSheetName(name: string): void {
  if (name.length < 1 || name.length > 31 || /[[\]:*?/\\]/.test(name) || name.startsWith("'")) {
    throw new RangeError(`invalid sheet name ${JSON.stringify(name)}: 1-31 characters, none of []:*?/\\`);
  }
}

function contentTypes(sheetCount: number, sharedStrings: boolean): string {
  const ct = 'application/vnd.openxmlformats-officedocument.spreadsheetml';
  const overrides = [`<Override PartName="/xl/workbook.xml" ContentType="${ct}.sheet.main+xml"/>`];
  for (let i = 1; i <= sheetCount; i++) {
    overrides.push(`<Override PartName="/xl/worksheets/sheet${i}.xml" ContentType="${ct}.worksheet+xml"/>`);
  }
  overrides.push(`<Override PartName="/xl/styles.xml" ContentType="${ct}.styles+xml"/>`);
  if (sharedStrings) {
    overrides.push(`<Override PartName="/xl/sharedStrings.xml" ContentType="${ct}.sharedStrings+xml"/>`);
  }
  return (
    `${XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
    '<Default Extension="xml" ContentType="application/xml"/>' +
    `${overrides.join('')}</Types>`
  );
}

function workbookXml(sheets: readonly XlsxSheetInput[], date1904: boolean): string {
  // Excel opens on the active tab, which must be a visible sheet.
  const active = Math.max(
    0,
    sheets.findIndex((s) => s.hidden !== true),
  );
  const sheetElements = sheets
    .map(
      (s, i) =>
        `<sheet name="${escapeXml(s.name)}" sheetId="${i + 1}"${s.hidden === true ? ' state="hidden"' : ''} r:id="rId${i + 1}"/>`,
    )
    .join('');
  return (
    `${XML_DECL}<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}">` +
    `<workbookPr${date1904 ? ' date1904="1"' : ''}/>` +
    `<bookViews><workbookView activeTab="${active}"/></bookViews>` +
    `<sheets>${sheetElements}</sheets></workbook>`
  );
}

function workbookRels(sheetCount: number, sharedStrings: boolean): string {
  const rels: string[] = [];
  for (let i = 1; i <= sheetCount; i++) {
    rels.push(`<Relationship Id="rId${i}" Type="${REL_NS}/worksheet" Target="worksheets/sheet${i}.xml"/>`);
  }
  rels.push(`<Relationship Id="rId${sheetCount + 1}" Type="${REL_NS}/styles" Target="styles.xml"/>`);
  if (sharedStrings) {
    rels.push(`<Relationship Id="rId${sheetCount + 2}" Type="${REL_NS}/sharedStrings" Target="sharedStrings.xml"/>`);
  }
  return `${XML_DECL}<Relationships xmlns="${PKG_REL_NS}">${rels.join('')}</Relationships>`;
}

/** Number formats and the cell styles (`cellXfs`) that use them; style 0 is the default General style. */
class StyleTable {
  private readonly customFormats = new Map<string, number>();
  /** numFmtId of each cellXfs entry after the default one, and the reverse map. */
  private readonly xfFormats: number[] = [];
  private readonly xfByFormat = new Map<number, number>();

  /** Style index for a built-in format id or a custom format code. */
  styleFor(format: number | string): number {
    let id: number;
    if (typeof format === 'number') {
      if (!Number.isInteger(format) || format < 0 || format >= FIRST_CUSTOM_FORMAT_ID) {
        throw new RangeError(`built-in number format ids are 0-163, got ${format}`);
      }
      id = format;
    } else {
      id = this.customFormats.get(format) ?? FIRST_CUSTOM_FORMAT_ID + this.customFormats.size;
      this.customFormats.set(format, id);
    }
    if (id === 0) return 0;
    let xf = this.xfByFormat.get(id);
    if (xf === undefined) {
      this.xfFormats.push(id);
      xf = this.xfFormats.length;
      this.xfByFormat.set(id, xf);
    }
    return xf;
  }

  xml(): string {
    const numFmts = [...this.customFormats]
      .map(([code, id]) => `<numFmt numFmtId="${id}" formatCode="${escapeXml(code)}"/>`)
      .join('');
    const xfs = this.xfFormats
      .map((id) => `<xf numFmtId="${id}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>`)
      .join('');
    return (
      `${XML_DECL}<styleSheet xmlns="${MAIN_NS}">` +
      (this.customFormats.size > 0 ? `<numFmts count="${this.customFormats.size}">${numFmts}</numFmts>` : '') +
      '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>' +
      '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
      '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
      '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
      `<cellXfs count="${this.xfFormats.length + 1}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>${xfs}</cellXfs>` +
      '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
      '</styleSheet>'
    );
  }
}

class SharedStringTable {
  private readonly index = new Map<string, number>();
  private count = 0;

  indexOf(text: string): number {
    this.count++;
    let i = this.index.get(text);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(text, i);
    }
    return i;
  }

  async *xml(): AsyncGenerator<Buffer> {
    let out = `${XML_DECL}<sst xmlns="${MAIN_NS}" count="${this.count}" uniqueCount="${this.index.size}">`;
    for (const text of this.index.keys()) {
      out += `<si><t xml:space="preserve">${escapeText(text)}</t></si>`;
      if (out.length >= SHEET_BATCH_CHARS) {
        yield Buffer.from(out, 'utf8');
        out = '';
      }
    }
    yield Buffer.from(`${out}</sst>`, 'utf8');
  }
}

interface SheetContext {
  styles: StyleTable;
  strings: SharedStringTable | undefined;
  date1904: boolean;
  counter: { rows: number };
}

async function* sheetXml(
  rows: Iterable<XlsxRowInput> | AsyncIterable<XlsxRowInput>,
  context: SheetContext,
): AsyncGenerator<Buffer> {
  let out = `${XML_DECL}<worksheet xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheetData>`;
  let lastRow = 0;
  for await (const input of rows) {
    const rowNo = 'cells' in input ? input.rowNo : lastRow + 1;
    const cells = 'cells' in input ? input.cells : input;
    if (!Number.isInteger(rowNo) || rowNo <= lastRow || rowNo > 1_048_576) {
      throw new RangeError(`row number ${rowNo} must be an integer above ${lastRow} and at most 1048576`);
    }
    lastRow = rowNo;
    context.counter.rows++;
    out += `<row r="${rowNo}">`;
    for (let c = 0; c < cells.length; c++) out += cellXml(cells[c], columnName(c) + rowNo, context);
    out += '</row>';
    if (out.length >= SHEET_BATCH_CHARS) {
      yield Buffer.from(out, 'utf8');
      out = '';
    }
  }
  yield Buffer.from(`${out}</sheetData></worksheet>`, 'utf8');
}

function cellXml(value: XlsxCellValue, ref: string, context: SheetContext): string {
  if (value === null || value === undefined || value === '') return '';
  if (typeof value === 'string') {
    if (context.strings !== undefined) return `<c r="${ref}" t="s"><v>${context.strings.indexOf(value)}</v></c>`;
    return `<c r="${ref}" t="inlineStr"><is><t xml:space="preserve">${escapeText(value)}</t></is></c>`;
  }
  if (typeof value === 'number') return `<c r="${ref}"><v>${numberText(value)}</v></c>`;
  if (typeof value === 'boolean') return `<c r="${ref}" t="b"><v>${value ? 1 : 0}</v></c>`;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw new RangeError(`invalid date in cell ${ref}`);
    // Serial days since the epoch of the date system; 25569 is 1970-01-01 in the 1900 system (past the 1900-02-29 bug).
    const serial = ms / MS_PER_DAY + (context.date1904 ? 24107 : 25569);
    const style = context.styles.styleFor(ms % MS_PER_DAY === 0 ? DATE_FORMAT : DATETIME_FORMAT);
    return `<c r="${ref}" s="${style}"><v>${numberText(serial)}</v></c>`;
  }
  if ('error' in value) return `<c r="${ref}" t="e"><v>${escapeXml(value.error)}</v></c>`;
  const style = context.styles.styleFor(value.format);
  const text = typeof value.value === 'number' ? numberText(value.value) : escapeXml(value.value);
  return `<c r="${ref}"${style === 0 ? '' : ` s="${style}"`}><v>${text}</v></c>`;
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`XLSX cannot hold the number ${n}`);
  return String(n);
}

/** Column name of a 0-based column index: 0 → A, 25 → Z, 26 → AA. */
export function columnName(index: number): string {
  let name = '';
  let n = index + 1;
  while (n > 0) {
    const rem = (n - 1) % 26;
    name = String.fromCharCode(65 + rem) + name;
    n = Math.floor((n - 1) / 26);
  }
  return name;
}

/**
 * Cell text for an XML text node, with characters XML 1.0 cannot hold (most control characters) written as the
 * OOXML escape `_xHHHH_`, as Excel does; a literal `_xHHHH_` in the text gets its underscore escaped so it survives.
 */
function escapeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|_x[0-9a-fA-F]{4}_/.test(text)) {
    text = text
      .replace(/_(x[0-9a-fA-F]{4}_)/g, '_x005F_$1')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (ch) => {
        return `_x${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}_`;
      });
  }
  // A carriage return would be normalised to a line feed by every XML parser: keep it as a character reference.
  return escapeXml(text).replace(/\r/g, '&#13;');
}

function escapeXml(text: string): string {
  return /[&<>"]/.test(text)
    ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    : text;
}

interface CentralEntry {
  name: Buffer;
  method: number;
  crc: number;
  compressedSize: number;
  uncompressedSize: number;
  offset: number;
  flags: number;
}

const LOCAL_HEADER_SIG = 0x04034b50;
const CENTRAL_HEADER_SIG = 0x02014b50;
const END_OF_CENTRAL_DIR_SIG = 0x06054b50;
/** General purpose flag bit 11: the file name is UTF-8. */
const UTF8_NAMES = 0x0800;
/** 1980-01-01 00:00 in MS-DOS date/time format: a fixed timestamp keeps the output reproducible. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const MAX_ZIP32 = 0xffffffff;

/**
 * Writes a zip archive entry by entry (deflate, or stored), sequentially into one file. Exported for tests that need
 * hand-made archives: `addRaw` writes an entry whose data and declared sizes come from the caller, true or not.
 */
export class ZipWriter {
  private offset = 0;
  private readonly entries: CentralEntry[] = [];

  private constructor(private readonly fh: FileHandle) {}

  static async create(file: string): Promise<ZipWriter> {
    return new ZipWriter(await open(file, 'w'));
  }

  /** Adds an entry from memory, deflated at `level` (0 stores it). */
  async add(name: string, data: string | Buffer, level = 6): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const stored = level === 0;
    const compressed = stored ? bytes : deflateRawSync(bytes, { level });
    await this.addRaw(name, {
      method: stored ? 0 : 8,
      data: [compressed],
      crc32: crc32(bytes),
      uncompressedSize: bytes.length,
    });
  }

  /** Adds a deflated entry whose content comes from an iterable, holding only a few pieces in memory at a time. */
  async addStream(name: string, source: Iterable<Buffer> | AsyncIterable<Buffer>, level = 6): Promise<void> {
    const header = await this.beginEntry(name, 8);
    const deflate = createDeflateRaw({ level });
    let crc = 0;
    let size = 0;
    const feed = (async (): Promise<void> => {
      for await (const piece of source) {
        crc = crc32(piece, crc);
        size += piece.length;
        if (!deflate.write(piece)) await once(deflate, 'drain');
      }
      deflate.end();
    })();
    // A failing source must end the deflater, or the loop below would wait for output forever.
    feed.catch((err: unknown) => deflate.destroy(err as Error));
    let compressed = 0;
    try {
      for await (const out of deflate as AsyncIterable<Buffer>) {
        await this.write(out);
        compressed += out.length;
      }
      await feed;
    } finally {
      deflate.destroy();
    }
    await this.endEntry(header, crc, compressed, size);
  }

  /**
   * Adds an entry with data exactly as given (already deflated for method 8) and the CRC and uncompressed size the
   * caller declares; the compressed size is what the data adds up to unless `compressedSize` says otherwise.
   */
  async addRaw(
    name: string,
    entry: {
      method: 0 | 8;
      data: Iterable<Buffer> | AsyncIterable<Buffer>;
      crc32: number;
      uncompressedSize: number;
      compressedSize?: number;
      flags?: number;
    },
  ): Promise<void> {
    const header = await this.beginEntry(name, entry.method, entry.flags);
    let compressed = 0;
    for await (const piece of entry.data) {
      await this.write(piece);
      compressed += piece.length;
    }
    await this.endEntry(header, entry.crc32, entry.compressedSize ?? compressed, entry.uncompressedSize);
  }

  /** Writes the central directory and closes the file; returns the archive's size. */
  async close(): Promise<number> {
    if (this.entries.length > 0xffff) throw new RangeError('more than 65535 entries needs zip64, which is not written');
    const cdStart = this.offset;
    for (const e of this.entries) {
      const h = Buffer.alloc(46);
      h.writeUInt32LE(CENTRAL_HEADER_SIG, 0);
      h.writeUInt16LE(20, 4); // version made by: 2.0, MS-DOS attributes
      h.writeUInt16LE(20, 6); // version needed to extract: 2.0 (deflate)
      h.writeUInt16LE(UTF8_NAMES | e.flags, 8);
      h.writeUInt16LE(e.method, 10);
      h.writeUInt16LE(DOS_TIME, 12);
      h.writeUInt16LE(DOS_DATE, 14);
      h.writeUInt32LE(e.crc >>> 0, 16);
      h.writeUInt32LE(e.compressedSize, 20);
      h.writeUInt32LE(e.uncompressedSize, 24);
      h.writeUInt16LE(e.name.length, 28);
      // extra field length, comment length, disk number, internal and external attributes: all 0
      h.writeUInt32LE(e.offset, 42);
      await this.write(Buffer.concat([h, e.name]));
    }
    const cdSize = this.offset - cdStart;
    if (cdStart > MAX_ZIP32 || cdSize > MAX_ZIP32) throw new RangeError('archive over 4 GiB needs zip64');
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL_DIR_SIG, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(cdStart, 16);
    await this.write(end);
    await this.fh.close();
    return this.offset;
  }

  /** Closes the file after a failure, leaving whatever was written. */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }

  private async beginEntry(name: string, method: number, flags = 0): Promise<CentralEntry> {
    const nameBytes = Buffer.from(name, 'utf8');
    const entry: CentralEntry = {
      name: nameBytes,
      method,
      crc: 0,
      compressedSize: 0,
      uncompressedSize: 0,
      offset: this.offset,
      flags,
    };
    if (entry.offset > MAX_ZIP32) throw new RangeError('archive over 4 GiB needs zip64');
    const h = Buffer.alloc(30);
    h.writeUInt32LE(LOCAL_HEADER_SIG, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(UTF8_NAMES | flags, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    // crc32 and sizes (14-25) are patched by endEntry; name length, then extra field length 0.
    h.writeUInt16LE(nameBytes.length, 26);
    await this.write(Buffer.concat([h, nameBytes]));
    return entry;
  }

  private async endEntry(
    entry: CentralEntry,
    crc: number,
    compressedSize: number,
    uncompressedSize: number,
  ): Promise<void> {
    if (compressedSize > MAX_ZIP32 || uncompressedSize > MAX_ZIP32) {
      throw new RangeError(`zip entry ${entry.name.toString()} is over 4 GiB, which needs zip64`);
    }
    Object.assign(entry, { crc, compressedSize, uncompressedSize });
    const patch = Buffer.alloc(12);
    patch.writeUInt32LE(crc >>> 0, 0);
    patch.writeUInt32LE(compressedSize, 4);
    patch.writeUInt32LE(uncompressedSize, 8);
    await this.fh.write(patch, 0, patch.length, entry.offset + 14);
    this.entries.push(entry);
  }

  private async write(buf: Buffer): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, this.offset + done);
      done += bytesWritten;
    }
    this.offset += buf.length;
  }
}
