/**
 * XLSX read as a stream, with caps on inflated size and entry count (zip bombs fail fast with a clear error).
 *
 * An .xlsx file is a zip of XML parts. The zip's central directory is read first, and every entry's declared size,
 * the declared total and each entry's compression ratio are checked against the caps before a single byte is
 * inflated, so a bomb (a few kilobytes that inflate to gigabytes) is refused in milliseconds. Declared sizes can lie,
 * so inflating also counts the bytes it actually gets and stops at the declared size or the cap, whichever is first.
 *
 * The sheet is found the way Excel finds it: _rels/.rels names the workbook part, the workbook lists sheets by name
 * with relationship ids, and the workbook's relationships map those ids to worksheet parts. Shared strings (the one
 * part that must be held whole: cells refer to it by index) are loaded into an array under their own cap; styles tell
 * which cells hold dates. The worksheet itself is parsed with saxes as it inflates and yields rows one at a time, so
 * memory stays bounded by the shared strings plus one row, however many rows the sheet has.
 *
 * Cell values become the text a person would expect, without reformatting numbers: the cached `<v>` text of a number
 * is kept as written ('0.1' stays '0.1'), dates become ISO 8601, booleans TRUE/FALSE, error cells their error text.
 * Element names are matched by local name, so prefixed parts (`<x:row>`, as some .NET writers produce) read the same.
 * DOCTYPE declarations are refused in every part: nothing legitimate in OOXML has one.
 */
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { crc32, createInflateRaw } from 'node:zlib';
import { SaxesParser } from 'saxes';
import type { SaxesTagPlain } from 'saxes';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { InputError } from '../profiles/types.ts';

export interface XlsxRow {
  /** 1-based sheet row, as Excel numbers it. */
  rowNo: number;
  /** Cell texts from column A; missing cells are ''. Trailing empty cells are dropped, so an empty row has none. */
  cells: string[];
  /** Error cells (`#DIV/0!`, `#N/A`, ...) of this row, by column letter; absent when there are none. */
  errors?: { column: string; value: string }[];
}

export interface XlsxReadOptions {
  /** Sheet name (exact, else case-insensitive as Excel compares them). Default: the first visible sheet. */
  sheet?: string;
  /** Most zip entries the archive may have. Default 10,000. */
  maxEntries?: number;
  /** Most bytes any entry, and all entries together, may inflate to. Default 1 GiB. */
  maxInflatedBytes?: number;
  /** Highest inflated:compressed ratio of an entry over 1 MiB inflated. Default 200. */
  maxRatio?: number;
  /** Most text the shared strings may hold, in UTF-16 code units (bytes for ASCII). Default 256 MiB. */
  maxSharedStringBytes?: number;
  /** Most text one cell (or one shared string) may hold, in UTF-16 code units. Default 1 MiB (Excel's own: 32,767). */
  maxCellBytes?: number;
  /** Most columns a row may reach (column index, not count of cells). Default 16,384, Excel's XFD. */
  maxColumns?: number;
}

export interface XlsxRecord {
  /** 1-based sheet row. */
  rowNo: number;
  /** Header name -> cell text; every header name is present ('' for a missing cell). */
  fields: Record<string, string>;
  /** `sheet "Claims" row 12`. */
  position: string;
  /** Error cells of this row, with the header name of their column; absent when there are none. */
  errors?: { column: string; field: string; value: string }[];
}

const MiB = 1 << 20;
const DEFAULTS = {
  maxEntries: 10_000,
  maxInflatedBytes: 1024 * MiB,
  maxRatio: 200,
  maxSharedStringBytes: 256 * MiB,
  maxCellBytes: MiB,
  maxColumns: 16_384,
} as const;
/** Entries smaller than this inflated are not ratio-checked: small, very repetitive parts are normal and harmless. */
const RATIO_CHECK_MIN_BYTES = MiB;
const CFB_SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const REL_TYPE = {
  officeDocument: '/officeDocument',
  worksheet: '/worksheet',
  chartsheet: '/chartsheet',
  sharedStrings: '/sharedStrings',
  styles: '/styles',
};

type Limits = Required<Omit<XlsxReadOptions, 'sheet'>>;

interface Workbook {
  zip: ZipFile;
  file: string;
  fileName: string;
  limits: Limits;
  /** Entries by lower-cased name: OPC part names are case-insensitive. */
  entries: Map<string, Entry>;
  /** Bytes inflated so far, all entries together. */
  inflated: number;
  sheetName: string;
  sheetPart: string;
  sharedStrings: string[];
  /** For each cell style index: whether its number format is a date or time format. */
  dateStyles: boolean[];
  date1904: boolean;
}

/**
 * Yields the rows of one sheet in order. Rows the sheet does not have are not yielded (`rowNo` says where each row
 * is). Throws `InputError` naming the file and the problem for anything that is not a readable XLSX workbook.
 */
export async function* readXlsxRows(
  file: string,
  fileName: string,
  options: XlsxReadOptions = {},
): AsyncGenerator<XlsxRow> {
  const book = await openWorkbook(file, fileName, options);
  try {
    for await (const rows of sheetRows(book)) yield* rows;
  } finally {
    book.zip.close();
  }
}

/**
 * Yields the rows of one sheet as records: the first non-empty row is the header (names trimmed, unique and
 * non-empty), fully empty rows are skipped, and a row with a value beyond the header's last column is an
 * `InputError` naming the row.
 */
export async function* readXlsxRecords(
  file: string,
  fileName: string,
  options: XlsxReadOptions = {},
): AsyncGenerator<XlsxRecord> {
  const book = await openWorkbook(file, fileName, options);
  try {
    const sheet = `sheet ${JSON.stringify(book.sheetName)}`;
    let header: string[] | undefined;
    for await (const rows of sheetRows(book)) {
      for (const row of rows) {
        if (row.cells.length === 0) continue;
        const position = `${sheet} row ${row.rowNo}`;
        if (header === undefined) {
          header = checkHeader(book, row, sheet);
          continue;
        }
        if (row.cells.length > header.length) {
          const column = columnLetters(row.cells.length - 1);
          throw new InputError(
            `${fileName}: ${position}: cell ${column}${row.rowNo} holds ${quote(row.cells.at(-1)!)} but the header ` +
              `has only ${header.length} columns (A-${columnLetters(header.length - 1)})`,
            { file: fileName, position },
          );
        }
        const fields: Record<string, string> = {};
        for (let i = 0; i < header.length; i++) fields[header[i]!] = row.cells[i] ?? '';
        const record: XlsxRecord = { rowNo: row.rowNo, fields, position };
        if (row.errors !== undefined) {
          record.errors = row.errors.map((e) => ({ ...e, field: header![columnIndex(e.column)]! }));
        }
        yield record;
      }
    }
  } finally {
    book.zip.close();
  }
}

function checkHeader(book: Workbook, row: XlsxRow, sheet: string): string[] {
  const header = row.cells.map((cell) => cell.trim());
  const firstCell = new Map<string, string>();
  header.forEach((name, i) => {
    const cell = `${columnLetters(i)}${row.rowNo}`;
    const position = `${sheet} cell ${cell}`;
    const fail = (problem: string): never => {
      throw new InputError(
        `${book.fileName}: ${position}: header column ${i + 1} ${problem}`,
        { file: book.fileName, position },
        'schema_violation',
      );
    };
    if (name === '') fail('has an empty name');
    const seen = firstCell.get(name);
    if (seen !== undefined) fail(`repeats the name ${quote(name)} of cell ${seen}`);
    // Assigning `__proto__` on a plain object would silently drop the cell.
    if (name === '__proto__') fail('has a reserved name');
    firstCell.set(name, cell);
  });
  return header;
}

async function openWorkbook(file: string, fileName: string, options: XlsxReadOptions): Promise<Workbook> {
  const limits: Limits = {
    maxEntries: options.maxEntries ?? DEFAULTS.maxEntries,
    maxInflatedBytes: options.maxInflatedBytes ?? DEFAULTS.maxInflatedBytes,
    maxRatio: options.maxRatio ?? DEFAULTS.maxRatio,
    maxSharedStringBytes: options.maxSharedStringBytes ?? DEFAULTS.maxSharedStringBytes,
    maxCellBytes: options.maxCellBytes ?? DEFAULTS.maxCellBytes,
    maxColumns: options.maxColumns ?? DEFAULTS.maxColumns,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!(value > 0)) throw new RangeError(`XLSX read option ${name} must be positive, got ${value}`);
  }
  const head = await sniff(file, fileName);
  let zip: ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    const msg = (err as Error).message;
    const problem = msg.startsWith('End of central directory record signature not found')
      ? head.startsWith('PK')
        ? 'its zip directory is missing: the file is truncated or damaged'
        : 'it is not a zip archive, as every XLSX file is'
      : `it is not a readable zip archive (${msg})`;
    throw new InputError(`${fileName}: cannot read the workbook: ${problem}`, { file: fileName });
  }
  const book: Workbook = {
    zip,
    file,
    fileName,
    limits,
    entries: new Map(),
    inflated: 0,
    sheetName: '',
    sheetPart: '',
    sharedStrings: [],
    dateStyles: [],
    date1904: false,
  };
  try {
    await readDirectory(book);
    await loadWorkbook(book, options.sheet);
    return book;
  } catch (err) {
    zip.close();
    throw err;
  }
}

/** Reads the first bytes: an OLE compound file (CFB) is what Excel writes for password-protected and legacy files. */
async function sniff(file: string, fileName: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead === 0)
      throw new InputError(`${fileName}: cannot read the workbook: the file is empty`, { file: fileName });
    if (bytesRead === head.length && head.equals(CFB_SIGNATURE)) {
      throw new InputError(
        `${fileName}: cannot read the workbook: it is an OLE compound file (CFB), not a zip archive: a ` +
          'password-protected (encrypted) workbook or a legacy .xls file; save it unprotected as .xlsx',
        { file: fileName },
      );
    }
    return head.toString('latin1', 0, bytesRead);
  } finally {
    await fh.close();
  }
}

function openZip(file: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(
      file,
      { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: true, strictFileNames: false },
      (err, zip) => (err ? reject(err) : resolve(zip)),
    );
  });
}

/** Reads the central directory and checks the caps; nothing is inflated yet. */
async function readDirectory(book: Workbook): Promise<void> {
  const { zip, fileName, limits } = book;
  const fail = (problem: string): InputError =>
    new InputError(`${fileName}: refusing to read the workbook: ${problem}`, { file: fileName });
  // The end-of-directory record says how many entries there are: refuse before reading any of them.
  if (zip.entryCount > limits.maxEntries) {
    throw fail(`the zip archive has ${zip.entryCount} entries, over the cap of ${limits.maxEntries} (maxEntries)`);
  }
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    zip.on('error', (err: Error) =>
      reject(new InputError(`${fileName}: cannot read the zip directory: ${err.message}`, { file: fileName })),
    );
    zip.on('end', () => resolve());
    zip.on('entry', (entry: Entry) => {
      const name = entry.fileName;
      const size = entry.uncompressedSize;
      const key = name.toLowerCase();
      let problem: InputError | undefined;
      if (book.entries.has(key)) {
        problem = fail(`zip entry "${name}" appears twice`);
      } else if (size > limits.maxInflatedBytes) {
        problem = fail(
          `zip entry "${name}" declares ${size} bytes inflated, over the cap of ${limits.maxInflatedBytes} bytes ` +
            '(maxInflatedBytes); a zip bomb?',
        );
      } else if ((total += size) > limits.maxInflatedBytes) {
        problem = fail(
          `zip entries declare at least ${total} bytes inflated in total, over the cap of ${limits.maxInflatedBytes} ` +
            'bytes (maxInflatedBytes); a zip bomb?',
        );
      } else if (size > RATIO_CHECK_MIN_BYTES && size > limits.maxRatio * entry.compressedSize) {
        const ratio = entry.compressedSize === 0 ? 'infinite' : `${Math.round(size / entry.compressedSize)}:1`;
        problem = fail(
          `zip entry "${name}" declares ${size} bytes inflated from ${entry.compressedSize} (ratio ${ratio}), over ` +
            `the cap of ${limits.maxRatio}:1 (maxRatio); a zip bomb?`,
        );
      }
      if (problem !== undefined) return reject(problem);
      book.entries.set(key, entry);
      zip.readEntry();
    });
    zip.readEntry();
  });
}

/** Finds the workbook part and the sheet, and loads the workbook settings, styles and shared strings. */
async function loadWorkbook(book: Workbook, wanted: string | undefined): Promise<void> {
  const { fileName } = book;
  const fail = (problem: string): InputError =>
    new InputError(`${fileName}: cannot read the workbook: ${problem}`, { file: fileName });

  const rootRels = book.entries.has('_rels/.rels') ? await readRels(book, '_rels/.rels', '') : [];
  const workbookPart = rootRels.find((r) => r.type.endsWith(REL_TYPE.officeDocument))?.target ?? 'xl/workbook.xml';
  if (!book.entries.has(workbookPart.toLowerCase())) {
    if (book.entries.has('mimetype') || book.entries.has('content.xml')) {
      throw fail('it is an OpenDocument file (.ods), not XLSX; save it as .xlsx');
    }
    throw fail(`it is a zip archive but not an XLSX workbook: it has no ${workbookPart}`);
  }
  if (workbookPart.endsWith('.bin')) throw fail('it is a binary workbook (.xlsb), not XLSX; save it as .xlsx');

  const sheets: { name: string; relId: string; hidden: boolean }[] = [];
  await parsePart(book, workbookPart, (parser) => {
    parser.on('opentag', (tag) => {
      const name = localName(tag.name);
      if (name === 'workbookPr') {
        const value = tag.attributes.date1904;
        book.date1904 = value === '1' || value === 'true';
      } else if (name === 'sheet') {
        const relId = Object.entries(tag.attributes).find(([attr]) => attr.endsWith(':id'))?.[1] ?? '';
        const state = tag.attributes.state;
        sheets.push({ name: tag.attributes.name ?? '', relId, hidden: state === 'hidden' || state === 'veryHidden' });
      }
    });
  });
  if (sheets.length === 0) throw fail(`${workbookPart} lists no sheets`);

  let sheet: (typeof sheets)[number] | undefined;
  if (wanted === undefined) {
    // A hidden first sheet (a lookup table, say) is not what a person sees first when they open the file.
    sheet = sheets.find((s) => !s.hidden) ?? sheets[0];
  } else {
    sheet = sheets.find((s) => s.name === wanted) ?? sheets.find((s) => s.name.toLowerCase() === wanted.toLowerCase());
    if (sheet === undefined) {
      throw fail(`it has no sheet named ${quote(wanted)} (sheets: ${sheets.map((s) => quote(s.name)).join(', ')})`);
    }
  }
  book.sheetName = sheet!.name;
  const label = `sheet ${quote(book.sheetName)}`;

  const dir = posix.dirname(workbookPart);
  const relsPart = posix.join(dir, '_rels', `${posix.basename(workbookPart)}.rels`);
  const rels = book.entries.has(relsPart.toLowerCase()) ? await readRels(book, relsPart, dir) : [];
  const sheetRel = rels.find((r) => r.id === sheet!.relId);
  if (sheetRel === undefined) throw fail(`${label} has no relationship ${quote(sheet!.relId)} in ${relsPart}`);
  if (sheetRel.type.endsWith(REL_TYPE.chartsheet)) throw fail(`${label} is a chart sheet, not a worksheet`);
  if (!sheetRel.type.endsWith(REL_TYPE.worksheet)) throw fail(`${label} is not a worksheet (${sheetRel.type})`);
  if (!book.entries.has(sheetRel.target.toLowerCase())) {
    throw fail(`${label} is stored in ${sheetRel.target}, which the archive does not have`);
  }
  book.sheetPart = sheetRel.target;

  // Parts listed in the relationships, else where every writer puts them.
  const partOf = (type: string, fallback: string): string | undefined => {
    const part = rels.find((r) => r.type.endsWith(type))?.target ?? posix.join(dir, fallback);
    return book.entries.has(part.toLowerCase()) ? part : undefined;
  };
  const stylesPart = partOf(REL_TYPE.styles, 'styles.xml');
  if (stylesPart !== undefined) book.dateStyles = await readDateStyles(book, stylesPart);
  const stringsPart = partOf(REL_TYPE.sharedStrings, 'sharedStrings.xml');
  if (stringsPart !== undefined) book.sharedStrings = await readSharedStrings(book, stringsPart);
}

interface Relationship {
  id: string;
  type: string;
  /** Archive path of the target part, resolved against the source part's folder. */
  target: string;
}

async function readRels(book: Workbook, part: string, baseDir: string): Promise<Relationship[]> {
  const rels: Relationship[] = [];
  await parsePart(book, part, (parser) => {
    parser.on('opentag', (tag) => {
      if (localName(tag.name) !== 'Relationship' || tag.attributes.TargetMode === 'External') return;
      const { Id: id = '', Type: type = '', Target: target = '' } = tag.attributes;
      let decoded = target;
      try {
        decoded = decodeURIComponent(target);
      } catch {
        // Not percent-encoded after all: use it as written.
      }
      const path = decoded.startsWith('/') ? decoded.slice(1) : posix.join(baseDir, decoded);
      rels.push({ id, type, target: posix.normalize(path) });
    });
  });
  return rels;
}

/** Built-in number formats that are dates or times (ECMA-376 Part 1, 18.8.30). */
const BUILTIN_DATE_FORMATS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47]);

async function readDateStyles(book: Workbook, part: string): Promise<boolean[]> {
  const customFormats = new Map<number, string>();
  const xfFormats: number[] = [];
  let inCellXfs = false;
  await parsePart(book, part, (parser) => {
    parser.on('opentag', (tag) => {
      const name = localName(tag.name);
      if (name === 'numFmt') {
        customFormats.set(Number(tag.attributes.numFmtId), tag.attributes.formatCode ?? '');
      } else if (name === 'cellXfs') {
        inCellXfs = !tag.isSelfClosing;
      } else if (name === 'xf' && inCellXfs) {
        // cellStyleXfs has xf elements too; only cellXfs are what a cell's s attribute indexes.
        xfFormats.push(Number(tag.attributes.numFmtId ?? 0));
      }
    });
    parser.on('closetag', (tag) => {
      if (localName(tag.name) === 'cellXfs') inCellXfs = false;
    });
  });
  return xfFormats.map((id) => {
    const code = customFormats.get(id);
    return code === undefined ? BUILTIN_DATE_FORMATS.has(id) : isDateFormatCode(code);
  });
}

/**
 * Whether a number format code shows a date or time: it has a d, m, y, h or s outside quoted text, brackets (colours,
 * locales, conditions) and the characters that `\`, `_` and `*` make literal.
 */
export function isDateFormatCode(code: string): boolean {
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (ch === '"') {
      const close = code.indexOf('"', i + 1);
      if (close === -1) return false;
      i = close;
    } else if (ch === '[') {
      const close = code.indexOf(']', i + 1);
      if (close === -1) return false;
      i = close;
    } else if (ch === '\\' || ch === '_' || ch === '*') {
      i++;
    } else if ('dmyhsDMYHS'.includes(ch)) {
      return true;
    }
  }
  return false;
}

async function readSharedStrings(book: Workbook, part: string): Promise<string[]> {
  const { limits, fileName } = book;
  const strings: string[] = [];
  let total = 0;
  let inItem = false;
  let phonetic = 0;
  let inText = false;
  let text = '';
  const onText = (t: string): void => {
    if (!inText) return;
    text += t;
    if (text.length > limits.maxCellBytes) {
      throw new InputError(
        `${fileName}: shared string ${strings.length} in ${part} is longer than ${limits.maxCellBytes} characters ` +
          '(maxCellBytes)',
        { file: fileName },
      );
    }
  };
  await parsePart(book, part, (parser) => {
    parser.on('opentag', (tag) => {
      const name = localName(tag.name);
      if (name === 'si') {
        inItem = true;
        text = '';
      } else if (name === 'rPh') {
        // Phonetic guides (furigana) are not part of the cell's text.
        phonetic++;
      } else if (name === 't' && inItem && phonetic === 0) {
        inText = !tag.isSelfClosing;
      }
    });
    parser.on('text', onText);
    parser.on('cdata', onText);
    parser.on('closetag', (tag) => {
      const name = localName(tag.name);
      if (name === 't') {
        inText = false;
      } else if (name === 'rPh') {
        phonetic--;
      } else if (name === 'si') {
        inItem = false;
        total += text.length;
        if (total > limits.maxSharedStringBytes) {
          throw new InputError(
            `${fileName}: refusing to read the workbook: shared strings in ${part} hold over ` +
              `${limits.maxSharedStringBytes} characters of text, the cap (maxSharedStringBytes)`,
            { file: fileName },
          );
        }
        strings.push(decodeEscapes(text));
      }
    });
  });
  return strings;
}

/**
 * Streams the worksheet's rows, in batches: the rows parsed from each inflated piece (up to 256 KiB of XML) are
 * handed out together, so the parser, the inflater and the consumer take turns and only one piece's rows are held.
 * Batches rather than single rows save an await per row, a tenth of the read time.
 */
async function* sheetRows(book: Workbook): AsyncGenerator<XlsxRow[]> {
  const { fileName, limits, sharedStrings, dateStyles, date1904 } = book;
  const sheet = `sheet ${quote(book.sheetName)}`;
  let ready: XlsxRow[] = [];

  let rowNo = 0;
  let cells: string[] = [];
  let errors: { column: string; value: string }[] | undefined;
  let inRow = false;
  // The current cell.
  let col = -1;
  let type = '';
  let style = 0;
  let value = '';
  let inline = '';
  /** 1: inside <v>, 2: inside <is>'s <t> (not in a phonetic run). */
  let capture = 0;
  let inInline = false;
  let phonetic = 0;

  const fail = (position: string, problem: string): never => {
    throw new InputError(`${fileName}: ${sheet} ${position}: ${problem}`, {
      file: fileName,
      position: `${sheet} ${position}`,
    });
  };

  // Handlers switch on the element name as written and retry with the local name only for a prefixed one, which
  // keeps the common unprefixed case free of string slicing.
  const onOpen = (tag: SaxesTagPlain, name = tag.name): void => {
    switch (name) {
      case 'c': {
        const a = tag.attributes;
        const ref = a.r;
        col = ref === undefined ? col + 1 : refColumn(ref);
        if (col < 0) fail(`row ${rowNo}`, `cell reference ${quote(ref ?? '')} is not a valid cell reference`);
        if (col >= limits.maxColumns) {
          fail(`row ${rowNo}`, `cell ${ref ?? columnLetters(col)} is beyond the column cap of ${limits.maxColumns}`);
        }
        type = a.t ?? 'n';
        style = a.s === undefined ? 0 : Number(a.s);
        value = '';
        inline = '';
        break;
      }
      case 'v':
        if (!tag.isSelfClosing) capture = 1;
        break;
      case 'is':
        inInline = true;
        break;
      case 't':
        if (inInline && phonetic === 0 && !tag.isSelfClosing) capture = 2;
        break;
      case 'rPh':
        phonetic++;
        break;
      case 'row': {
        const r = tag.attributes.r;
        const next = r === undefined ? rowNo + 1 : Number(r);
        if (!Number.isInteger(next) || next <= rowNo || next > 1_048_576) {
          fail(`row ${r ?? next}`, rowNo === 0 ? 'is not a valid row number' : `comes after row ${rowNo}`);
        }
        rowNo = next;
        inRow = true;
        cells = [];
        errors = undefined;
        col = -1;
        break;
      }
      default:
        if (name.includes(':')) onOpen(tag, localName(name));
    }
  };

  const onText = (text: string): void => {
    if (capture === 0) return;
    if (capture === 1) value += text;
    else inline += text;
    if (value.length + inline.length > limits.maxCellBytes) {
      fail(`cell ${columnLetters(col)}${rowNo}`, `holds over ${limits.maxCellBytes} characters (maxCellBytes)`);
    }
  };

  const onClose = (tag: SaxesTagPlain, name = tag.name): void => {
    switch (name) {
      case 'v':
      case 't':
        capture = 0;
        break;
      case 'is':
        inInline = false;
        break;
      case 'rPh':
        phonetic--;
        break;
      case 'c': {
        const text = cellText();
        if (text !== '') {
          while (cells.length < col) cells.push('');
          cells[col] = text;
        }
        break;
      }
      case 'row': {
        // Empty cells (formatting only) were never placed, so trailing ones are simply absent.
        const row: XlsxRow = { rowNo, cells };
        if (errors !== undefined) row.errors = errors;
        ready.push(row);
        inRow = false;
        break;
      }
      default:
        if (name.includes(':')) onClose(tag, localName(name));
    }
  };

  const cellText = (): string => {
    switch (type) {
      case 'n': {
        if (value === '' || !(dateStyles[style] ?? false)) return value;
        return serialToIso(Number(value), date1904) ?? value;
      }
      case 's': {
        const index = Number(value);
        const text = sharedStrings[index];
        if (text === undefined) {
          fail(`cell ${columnLetters(col)}${rowNo}`, `refers to shared string ${quote(value)}, which does not exist`);
        }
        return text!;
      }
      case 'inlineStr':
        return decodeEscapes(inline);
      case 'str':
        return decodeEscapes(value);
      case 'b':
        return value === '1' || value === 'true' ? 'TRUE' : value === '0' || value === 'false' ? 'FALSE' : value;
      case 'e':
        if (value !== '') (errors ??= []).push({ column: columnLetters(col), value });
        return value;
      default:
        // t="d" (an ISO 8601 date, as some writers use) and anything unknown: the text as written.
        return value;
    }
  };

  const parser = newParser(book, book.sheetPart);
  parser.on('opentag', onOpen);
  parser.on('closetag', onClose);
  parser.on('text', onText);
  parser.on('cdata', onText);

  const decoder = new TextDecoder('utf-8', { fatal: true });
  for await (const piece of inflate(book, book.sheetPart)) {
    write(book, book.sheetPart, parser, decode(book, book.sheetPart, decoder, piece));
    if (ready.length > 0) {
      const rows = ready;
      ready = [];
      yield rows;
    }
  }
  write(book, book.sheetPart, parser, decode(book, book.sheetPart, decoder));
  close(book, book.sheetPart, parser);
  if (inRow) fail(`row ${rowNo}`, 'is not closed');
  if (ready.length > 0) yield ready;
}

function newParser(book: Workbook, part: string): SaxesParser {
  const parser = new SaxesParser({ xmlns: false, position: true });
  parser.on('doctype', () => {
    throw new InputError(`${book.fileName}: ${part} has a DOCTYPE declaration, which XLSX parts never have`, {
      file: book.fileName,
    });
  });
  return parser;
}

/** Parses a whole part, for parts read to the end (workbook, relationships, styles, shared strings). */
async function parsePart(book: Workbook, part: string, setup: (parser: SaxesParser) => void): Promise<void> {
  const parser = newParser(book, part);
  setup(parser);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for await (const piece of inflate(book, part)) write(book, part, parser, decode(book, part, decoder, piece));
  write(book, part, parser, decode(book, part, decoder));
  close(book, part, parser);
}

function decode(book: Workbook, part: string, decoder: TextDecoder, piece?: Buffer): string {
  try {
    return piece === undefined ? decoder.decode() : decoder.decode(piece, { stream: true });
  } catch {
    throw new InputError(`${book.fileName}: ${part} is not valid UTF-8`, { file: book.fileName });
  }
}

function write(book: Workbook, part: string, parser: SaxesParser, text: string): void {
  try {
    parser.write(text);
  } catch (err) {
    throw xmlError(book, part, err);
  }
}

function close(book: Workbook, part: string, parser: SaxesParser): void {
  try {
    parser.close();
  } catch (err) {
    throw xmlError(book, part, err);
  }
}

function xmlError(book: Workbook, part: string, err: unknown): Error {
  if (err instanceof InputError) return err;
  // saxes messages start with line:column.
  return new InputError(`${book.fileName}: ${part} is not well-formed XML: ${(err as Error).message}`, {
    file: book.fileName,
  });
}

/** zlib output piece size: 256 KiB pieces halve inflate-and-decode time against zlib's 16 KiB default. */
const INFLATE_CHUNK_BYTES = 256 << 10;

/**
 * Inflates one entry, counting what comes out: more than the entry declared, or more than the cap over all entries,
 * stops it with an `InputError` (declared sizes are only claims). Checks the CRC when the entry is read to the end.
 * yauzl reads the entry's raw bytes (bounded by its compressed size); inflating is done here, with larger pieces
 * than yauzl's own inflater uses, and the counting above replaces yauzl's size check on the way.
 */
async function* inflate(book: Workbook, part: string): AsyncGenerator<Buffer> {
  const { fileName, zip, limits } = book;
  const entry = book.entries.get(part.toLowerCase())!;
  const name = entry.fileName;
  const fail = (problem: string): InputError =>
    new InputError(`${fileName}: zip entry "${name}" ${problem}`, { file: fileName });
  if (entry.isEncrypted()) throw fail('is encrypted; save the workbook without a password');
  if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
    throw fail(`uses compression method ${entry.compressionMethod}; XLSX uses deflate (8) or none (0)`);
  }
  let raw: Readable;
  try {
    raw = await new Promise<Readable>((resolve, reject) =>
      zip.openReadStream(entry, { decodeFileData: false }, (err, s) => (err ? reject(err) : resolve(s))),
    );
  } catch (err) {
    throw fail(`cannot be read: ${(err as Error).message}`);
  }
  const stream: Readable =
    entry.compressionMethod === 0
      ? raw
      : pipeline(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES }), () => {
          // Errors reach the loop below through the inflater, which pipeline destroys with them.
        });
  let count = 0;
  let crc = 0;
  try {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        count += chunk.length;
        book.inflated += chunk.length;
        if (count > entry.uncompressedSize) {
          throw fail(`inflates to more than the ${entry.uncompressedSize} bytes it declares; a zip bomb?`);
        }
        if (book.inflated > limits.maxInflatedBytes) {
          throw fail(
            `inflates past the cap of ${limits.maxInflatedBytes} bytes for the whole workbook (maxInflatedBytes)`,
          );
        }
        crc = crc32(chunk, crc);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw fail(`is corrupt: ${(err as Error).message}`);
    }
    if (count !== entry.uncompressedSize) {
      throw fail(`is truncated: it inflates to ${count} bytes but declares ${entry.uncompressedSize}`);
    }
    if (crc >>> 0 !== entry.crc32 >>> 0) throw fail('is corrupt: its CRC-32 does not match');
  } finally {
    stream.destroy();
    raw.destroy();
  }
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

/** 0-based column of a cell reference such as `C7` (letters, then the row), or -1 when it is not one. */
function refColumn(ref: string): number {
  let col = 0;
  let i = 0;
  for (; i < ref.length && i < 4; i++) {
    const code = ref.charCodeAt(i);
    if (code >= 65 && code <= 90) col = col * 26 + (code - 64);
    else if (code >= 97 && code <= 122) col = col * 26 + (code - 96);
    else break;
  }
  return i === 0 || i > 3 ? -1 : col - 1;
}

function columnIndex(letters: string): number {
  return refColumn(letters);
}

/** Column letters of a 0-based column index: 0 → A, 26 → AA. */
function columnLetters(index: number): string {
  let name = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}

/** OOXML escapes characters XML cannot hold as `_xHHHH_` (ECMA-376 Part 1, 22.9.2.19). */
function decodeEscapes(text: string): string {
  if (!text.includes('_x')) return text;
  return text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * An Excel date serial as ISO 8601: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` when it has a time of day, rounded to the
 * second. The 1900 system counts 1900-01-01 as 1 and, like Lotus 1-2-3, has a 29 February 1900 (serial 60), so days
 * from 61 on are one more than the calendar says; the 1904 system counts 1904-01-01 as 0. In the 1900 system a
 * serial below 1 is a time of day alone (`HH:MM:SS`). Returns undefined for a value that is not a date Excel can show.
 * Integer arithmetic only: this runs for every date cell, and a `Date` per cell was a tenth of the read time.
 */
export function serialToIso(serial: number, date1904: boolean): string | undefined {
  if (!Number.isFinite(serial) || serial < 0 || serial >= (date1904 ? 2_957_004 : 2_958_466)) return undefined;
  let days = Math.floor(serial);
  let seconds = Math.round((serial - days) * 86_400);
  if (seconds === 86_400) {
    days++;
    seconds = 0;
  }
  const time =
    seconds === 0
      ? ''
      : `${pad2(Math.floor(seconds / 3600))}:${pad2(Math.floor(seconds / 60) % 60)}:${pad2(seconds % 60)}`;
  if (!date1904 && days === 0) return time === '' ? '00:00:00' : time;
  // Days since 1970-01-01: 25569 is 1970-01-01 in the 1900 system from serial 61 on, 24107 in the 1904 system.
  const date =
    !date1904 && days === 60 ? '1900-02-29' : civilDate(days - (date1904 ? 24_107 : days < 60 ? 25_568 : 25_569));
  return time === '' ? date : `${date}T${time}`;
}

/** `YYYY-MM-DD` of a count of days since 1970-01-01 (proleptic Gregorian; H. Hinnant's civil_from_days). */
function civilDate(daysSince1970: number): string {
  const z = daysSince1970 + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
