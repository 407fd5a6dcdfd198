import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { isDateFormatCode, readXlsxRecords, readXlsxRows, serialToIso } from '../../src/formats/xlsx.ts';
import type { XlsxReadOptions, XlsxRecord, XlsxRow } from '../../src/formats/xlsx.ts';
import { columnName, writeXlsx, ZipWriter } from '../../src/formats/xlsx-write.ts';
import type { XlsxCellValue, XlsxRowInput } from '../../src/formats/xlsx-write.ts';
import type { InputError } from '../../src/profiles/types.ts';
import { MAIN_NS, PKG_REL_NS, REL_NS, addWorkbookParts, deflatedZeros } from '../helpers/xlsx-fixtures.ts';
import { inputErrorOf } from '../helpers/input-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-xlsx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
const nextFile = (): string => join(dir, `f${fileNo++}.xlsx`);

async function book(rows: XlsxRowInput[], options: Parameters<typeof writeXlsx>[2] = {}): Promise<string> {
  const file = nextFile();
  await writeXlsx(file, [{ name: 'Claims', rows }], options);
  return file;
}

async function rowsOf(file: string, options?: XlsxReadOptions): Promise<XlsxRow[]> {
  const rows: XlsxRow[] = [];
  for await (const row of readXlsxRows(file, 'in.xlsx', options)) rows.push(row);
  return rows;
}

async function recordsOf(file: string, options?: XlsxReadOptions): Promise<XlsxRecord[]> {
  const records: XlsxRecord[] = [];
  for await (const record of readXlsxRecords(file, 'in.xlsx', options)) records.push(record);
  return records;
}

const failure = inputErrorOf;

/** Cell texts of one-cell rows, for value tests. */
async function values(cells: XlsxCellValue[], options: Parameters<typeof writeXlsx>[2] = {}): Promise<string[]> {
  const rows = await rowsOf(await book([cells], options));
  return rows[0]!.cells;
}

/** The minimal package around hand-written parts; a part set to null is left out. */
async function craft(parts: Record<string, string | Buffer | null>): Promise<string> {
  const all: Record<string, string | Buffer | null> = {
    '[Content_Types].xml':
      '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="xml" ContentType="application/xml"/></Types>',
    '_rels/.rels': `<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
    'xl/workbook.xml': `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    'xl/_rels/workbook.xml.rels': `<Relationships xmlns="${PKG_REL_NS}"><Relationship Id="rId1" Type="${REL_NS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
    ...parts,
  };
  const file = nextFile();
  const zip = await ZipWriter.create(file);
  for (const [name, data] of Object.entries(all)) if (data !== null) await zip.add(name, data);
  await zip.close();
  return file;
}

const sheet = (rows: string, prefix = ''): string =>
  `<${prefix}worksheet xmlns${prefix ? `:${prefix.slice(0, -1)}` : ''}="${MAIN_NS}"><${prefix}sheetData>${rows}</${prefix}sheetData></${prefix}worksheet>`;

describe('readXlsxRows: cell values', () => {
  it('reads strings, numbers as written, booleans and error cells, inline or shared', async () => {
    const cells: XlsxCellValue[] = [
      'text',
      '  spaced  ',
      'a & <b> "c"',
      'line\nbreak\r\nand CR',
      'control\u0001char _x0041_ literal',
      '漢字 é',
      0.1,
      0.1 + 0.2,
      -42,
      1e-7,
      { value: '123456789012345678', format: 0 },
      { value: '0.10', format: 0 },
      true,
      false,
      { error: '#DIV/0!' },
      { error: '#N/A' },
    ];
    const expected = [
      'text',
      '  spaced  ',
      'a & <b> "c"',
      'line\nbreak\r\nand CR',
      'control\u0001char _x0041_ literal',
      '漢字 é',
      '0.1',
      '0.30000000000000004',
      '-42',
      '1e-7',
      '123456789012345678',
      '0.10',
      'TRUE',
      'FALSE',
      '#DIV/0!',
      '#N/A',
    ];
    for (const sharedStrings of [false, true]) {
      const rows = await rowsOf(await book([cells], { sharedStrings }));
      expect(rows).toEqual([
        {
          rowNo: 1,
          cells: expected,
          errors: [
            { column: 'O', value: '#DIV/0!' },
            { column: 'P', value: '#N/A' },
          ],
        },
      ]);
    }
  });

  it('places cells by column letter, fills gaps with empty strings and drops trailing empty cells', async () => {
    const file = await book([
      { rowNo: 2, cells: [null, null, 'C2'] },
      { rowNo: 7, cells: ['A7', '', null, 'D7', null, ''] },
      { rowNo: 9, cells: [null, null] },
    ]);
    expect(await rowsOf(file)).toEqual([
      { rowNo: 2, cells: ['', '', 'C2'] },
      { rowNo: 7, cells: ['A7', '', '', 'D7'] },
      { rowNo: 9, cells: [] },
    ]);
    // Far columns are placed by their letters too.
    const far: XlsxCellValue[] = [];
    far[700] = 'ZY1';
    const [row] = await rowsOf(await book([far]));
    expect(columnName(700)).toBe('ZY');
    expect(row!.cells).toHaveLength(701);
    expect(row!.cells[700]).toBe('ZY1');
  });

  it('converts date-formatted serials to ISO dates in the 1900 system, Lotus leap-year bug included', async () => {
    expect(
      await values([
        { value: 45292, format: 14 },
        { value: 45292.5, format: 'yyyy-mm-dd hh:mm' },
        { value: 45292.000011574, format: 22 },
        { value: 45292.99999999, format: 14 },
        { value: 1, format: 14 },
        { value: 59, format: 14 },
        { value: 60, format: 14 },
        { value: 61, format: 14 },
        { value: 0.75, format: 'h:mm' },
        { value: 2958465, format: 14 },
        { value: 2958466, format: 14 },
        { value: -1, format: 14 },
        new Date(Date.UTC(2024, 1, 29)),
        new Date(Date.UTC(2024, 1, 29, 13, 45, 30)),
      ]),
    ).toEqual([
      '2024-01-01',
      '2024-01-01T12:00:00',
      '2024-01-01T00:00:01',
      '2024-01-02',
      '1900-01-01',
      '1900-02-28',
      '1900-02-29',
      '1900-03-01',
      '18:00:00',
      '9999-12-31',
      '2958466',
      '-1',
      '2024-02-29',
      '2024-02-29T13:45:30',
    ]);
  });

  it('uses the 1904 date system when the workbook says so', async () => {
    expect(
      await values([{ value: 0, format: 14 }, { value: 43830, format: 14 }, new Date(Date.UTC(2024, 0, 1, 6))], {
        date1904: true,
      }),
    ).toEqual(['1904-01-01', '2024-01-01', '2024-01-01T06:00:00']);
  });

  it('leaves numbers with non-date formats as written', async () => {
    expect(
      await values([
        { value: 45292, format: 0 },
        { value: 45292, format: 2 },
        { value: 45292, format: '0.00' },
        { value: 45292, format: '#,##0.00" days"' },
        { value: 45292, format: '[Red]0.00;[Blue]-0.00' },
        { value: 45292, format: '0\\d' },
        { value: 45292, format: '_(* #,##0_);_(* (#,##0);_(* "-"??_);_(@_)' },
      ]),
    ).toEqual(['45292', '45292', '45292', '45292', '45292', '45292', '45292']);
  });

  it('recognises date format codes', () => {
    for (const code of [
      'yyyy-mm-dd',
      'YYYY\\-MM\\-DD',
      'd/m/yy',
      '[$-409]d-mmm-yy;@',
      'h:mm AM/PM',
      '[h]:mm:ss',
      'mmm',
    ]) {
      expect(isDateFormatCode(code), code).toBe(true);
    }
    for (const code of ['General', '0.00', '#,##0', '"Day "0', '[Red]0', '0.00E+00', '@', '0\\h', '_-* #,##0_-', '']) {
      expect(isDateFormatCode(code), code).toBe(false);
    }
    expect(serialToIso(45292.25, false)).toBe('2024-01-01T06:00:00');
    expect(serialToIso(Number.NaN, false)).toBeUndefined();
  });
});

describe('readXlsxRows: workbook structure', () => {
  it('reads a LibreOffice-style workbook: verbose markup, rich text, phonetic runs, formulas, escapes', async () => {
    const root = fileURLToPath(new URL('../fixtures/xlsx/libreoffice', import.meta.url));
    const parts: Record<string, Buffer> = {};
    const walk = (folder: string): void => {
      for (const name of readdirSync(folder)) {
        const path = join(folder, name);
        if (statSync(path).isDirectory()) walk(path);
        else parts[relative(root, path).split('\\').join('/')] = readFileSync(path);
      }
    };
    walk(root);
    const file = nextFile();
    const zip = await ZipWriter.create(file);
    for (const [name, data] of Object.entries(parts)) await zip.add(name, data);
    await zip.close();

    expect(await rowsOf(file)).toEqual([
      { rowNo: 1, cells: ['claim_id', 'member', 'service_date', 'amount', 'approved'] },
      { rowNo: 2, cells: ['CL-0001', 'Ana García', '2024-01-19', '1234.5', 'TRUE'] },
      { rowNo: 3, cells: ['CL-0002', 'Zoë & Bo', '2024-01-19T12:30:00', '411.5', 'FALSE'] },
      {
        rowNo: 4,
        cells: ['CL-0003', '山田', '1900-02-29', '#DIV/0!', 'first line\r\nsecond line'],
        errors: [{ column: 'D', value: '#DIV/0!' }],
      },
      { rowNo: 5, cells: [] },
    ]);
    expect(await rowsOf(file, { sheet: 'Notes' })).toEqual([{ rowNo: 2, cells: ['', '2.5'] }]);
    const records = await recordsOf(file);
    expect(records.map((r) => r.position)).toEqual([
      'sheet "Claims" row 2',
      'sheet "Claims" row 3',
      'sheet "Claims" row 4',
    ]);
    expect(records[2]).toEqual({
      rowNo: 4,
      position: 'sheet "Claims" row 4',
      fields: {
        claim_id: 'CL-0003',
        member: '山田',
        service_date: '1900-02-29',
        amount: '#DIV/0!',
        approved: 'first line\r\nsecond line',
      },
      errors: [{ column: 'D', field: 'amount', value: '#DIV/0!' }],
    });
  });

  it('chooses the sheet by name, else the first visible one', async () => {
    const file = nextFile();
    await writeXlsx(file, [
      { name: 'Lookup', hidden: true, rows: [['hidden']] },
      { name: 'Claims', rows: [['claims']] },
      { name: 'Other', rows: [['other']] },
    ]);
    expect((await rowsOf(file))[0]!.cells).toEqual(['claims']);
    expect((await rowsOf(file, { sheet: 'Other' }))[0]!.cells).toEqual(['other']);
    expect((await rowsOf(file, { sheet: 'lookup' }))[0]!.cells).toEqual(['hidden']);
    const err = await failure(rowsOf(file, { sheet: 'Claimz' }));
    expect(err.message).toBe(
      'in.xlsx: cannot read the workbook: it has no sheet named "Claimz" (sheets: "Lookup", "Claims", "Other")',
    );
    expect(err.location).toEqual({ file: 'in.xlsx' });
  });

  it('matches elements by local name, so prefixed parts read the same', async () => {
    const file = await craft({
      'xl/worksheets/sheet1.xml': sheet(
        '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>a</x:t></x:is></x:c><x:c r="C1"><x:v>3</x:v></x:c></x:row>',
        'x:',
      ),
    });
    expect(await rowsOf(file)).toEqual([{ rowNo: 1, cells: ['a', '', '3'] }]);
  });

  it('numbers rows and cells without r attributes in order, and reads formula strings and t="d" as written', async () => {
    const file = await craft({
      'xl/worksheets/sheet1.xml': sheet(
        '<row><c t="inlineStr"><is><r><t>rich </t></r><r><t>text</t></r></is></c><c><v>2</v></c></row>' +
          '<row><c t="str"><f>A1&amp;"!"</f><v>rich text!</v></c><c t="d"><v>2024-03-01T00:00:00</v></c>' +
          '<c t="inlineStr"><is><t>漢字</t><rPh sb="0" eb="2"><t>かんじ</t></rPh></is></c></row>',
      ),
    });
    expect(await rowsOf(file)).toEqual([
      { rowNo: 1, cells: ['rich text', '2'] },
      { rowNo: 2, cells: ['rich text!', '2024-03-01T00:00:00', '漢字'] },
    ]);
  });

  it('stops early without reading the rest of the sheet', async () => {
    const file = await book(Array.from({ length: 20_000 }, (_, i) => [i + 1, `row ${i + 1}`]));
    const seen: number[] = [];
    for await (const row of readXlsxRows(file, 'in.xlsx')) {
      seen.push(row.rowNo);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('readXlsxRecords', () => {
  it('takes the first non-empty row as the header, trims names, fills missing cells and skips empty rows', async () => {
    const file = await book([
      { rowNo: 2, cells: [null] },
      { rowNo: 3, cells: [' id ', 'name', ' amount'] },
      { rowNo: 4, cells: ['A-1', 'Ana', 12.5] },
      { rowNo: 5, cells: [] },
      { rowNo: 6, cells: ['A-2'] },
      { rowNo: 8, cells: [null, 'Bo', { error: '#VALUE!' }] },
    ]);
    expect(await recordsOf(file)).toEqual([
      { rowNo: 4, position: 'sheet "Claims" row 4', fields: { id: 'A-1', name: 'Ana', amount: '12.5' } },
      { rowNo: 6, position: 'sheet "Claims" row 6', fields: { id: 'A-2', name: '', amount: '' } },
      {
        rowNo: 8,
        position: 'sheet "Claims" row 8',
        fields: { id: '', name: 'Bo', amount: '#VALUE!' },
        errors: [{ column: 'C', field: 'amount', value: '#VALUE!' }],
      },
    ]);
  });

  it('rejects empty, repeated and reserved header names, naming the cell', async () => {
    const empty = await failure(
      recordsOf(
        await book([
          ['id', null, 'amount'],
          [1, 2, 3],
        ]),
      ),
    );
    expect(empty.message).toBe('in.xlsx: sheet "Claims" cell B1: header column 2 has an empty name');
    expect(empty.location).toEqual({ file: 'in.xlsx', position: 'sheet "Claims" cell B1' });
    expect(empty.code).toBe('schema_violation');

    const repeated = await failure(recordsOf(await book([{ rowNo: 4, cells: ['id', 'amount', ' amount '] }])));
    expect(repeated.message).toBe(
      'in.xlsx: sheet "Claims" cell C4: header column 3 repeats the name "amount" of cell B4',
    );
    const reserved = await failure(recordsOf(await book([['id', '__proto__']])));
    expect(reserved.message).toBe('in.xlsx: sheet "Claims" cell B1: header column 2 has a reserved name');
  });

  it('rejects a row with a value beyond the header, naming the row and cell', async () => {
    const file = await book([
      ['id', 'name'],
      ['A-1', 'Ana'],
      ['A-2', 'Bo', null, 'stray'],
    ]);
    const err = await failure(recordsOf(file));
    expect(err.message).toBe(
      'in.xlsx: sheet "Claims" row 3: cell D3 holds "stray" but the header has only 2 columns (A-B)',
    );
    expect(err.location).toEqual({ file: 'in.xlsx', position: 'sheet "Claims" row 3' });
  });
});

describe('readXlsxRows: malformed workbooks', () => {
  it('says when the file is not a zip, is empty, is truncated, or is encrypted (CFB)', async () => {
    const text = join(dir, 'text.xlsx');
    writeFileSync(text, 'id,name\n1,a\n');
    expect((await failure(rowsOf(text))).message).toBe(
      'in.xlsx: cannot read the workbook: it is not a zip archive, as every XLSX file is',
    );
    const empty = join(dir, 'empty.xlsx');
    writeFileSync(empty, '');
    expect((await failure(rowsOf(empty))).message).toBe('in.xlsx: cannot read the workbook: the file is empty');

    const truncated = await book(Array.from({ length: 2000 }, (_, i) => [i, `row ${i}`]));
    truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
    const cut = await failure(rowsOf(truncated));
    expect(cut.message).toBe(
      'in.xlsx: cannot read the workbook: its zip directory is missing: the file is truncated or damaged',
    );
    expect(cut.location).toEqual({ file: 'in.xlsx' });

    const cfb = join(dir, 'protected.xlsx');
    writeFileSync(cfb, Buffer.concat([Buffer.from('d0cf11e0a1b11ae1', 'hex'), Buffer.alloc(4096)]));
    const encrypted = await failure(rowsOf(cfb));
    expect(encrypted.message).toContain('in.xlsx: cannot read the workbook: it is an OLE compound file (CFB)');
    expect(encrypted.message).toContain('password-protected (encrypted) workbook');
  });

  it('says when a zip is not a workbook, or a part is missing', async () => {
    expect((await failure(rowsOf(await craft({ 'xl/workbook.xml': null })))).message).toBe(
      'in.xlsx: cannot read the workbook: it is a zip archive but not an XLSX workbook: it has no xl/workbook.xml',
    );
    const ods = await craft({ 'xl/workbook.xml': null, mimetype: 'application/vnd.oasis.opendocument.spreadsheet' });
    expect((await failure(rowsOf(ods))).message).toContain('it is an OpenDocument file (.ods), not XLSX');
    expect((await failure(rowsOf(await craft({})))).message).toBe(
      'in.xlsx: cannot read the workbook: sheet "Sheet1" is stored in xl/worksheets/sheet1.xml, which the archive does not have',
    );
  });

  it('refuses DOCTYPE declarations and reports malformed XML with the part', async () => {
    const doctype = await craft({
      'xl/worksheets/sheet1.xml': `<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>${sheet('<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row>')}`,
    });
    expect((await failure(rowsOf(doctype))).message).toBe(
      'in.xlsx: xl/worksheets/sheet1.xml has a DOCTYPE declaration, which XLSX parts never have',
    );
    const malformed = await craft({
      'xl/worksheets/sheet1.xml': sheet('<row r="1"><c r="A1"><v>1</v></row>'),
    });
    const err = await failure(rowsOf(malformed));
    expect(err.message).toMatch(/^in\.xlsx: xl\/worksheets\/sheet1\.xml is not well-formed XML: 1:\d+: /);
  });

  it('rejects rows out of order, unknown shared strings, and cells past the caps, naming the cell', async () => {
    const outOfOrder = await craft({
      'xl/worksheets/sheet1.xml': sheet(
        '<row r="5"><c r="A5"><v>1</v></c></row><row r="3"><c r="A3"><v>1</v></c></row>',
      ),
    });
    const order = await failure(rowsOf(outOfOrder));
    expect(order.message).toBe('in.xlsx: sheet "Sheet1" row 3: comes after row 5');
    expect(order.location).toEqual({ file: 'in.xlsx', position: 'sheet "Sheet1" row 3' });

    const unknown = await craft({ 'xl/worksheets/sheet1.xml': sheet('<row r="1"><c r="B1" t="s"><v>7</v></c></row>') });
    expect((await failure(rowsOf(unknown))).message).toBe(
      'in.xlsx: sheet "Sheet1" cell B1: refers to shared string "7", which does not exist',
    );

    const far = await craft({ 'xl/worksheets/sheet1.xml': sheet('<row r="2"><c r="XFE2"><v>1</v></c></row>') });
    expect((await failure(rowsOf(far))).message).toBe(
      'in.xlsx: sheet "Sheet1" row 2: cell XFE2 is beyond the column cap of 16384',
    );
    const wide = await book([Array.from({ length: 30 }, (_, i) => i)]);
    expect((await failure(rowsOf(wide, { maxColumns: 26 }))).message).toBe(
      'in.xlsx: sheet "Claims" row 1: cell AA1 is beyond the column cap of 26',
    );

    const long = await book([['ok', 'x'.repeat(5000)]]);
    expect((await failure(rowsOf(long, { maxCellBytes: 4096 }))).message).toBe(
      'in.xlsx: sheet "Claims" cell B1: holds over 4096 characters (maxCellBytes)',
    );
    const strings = await book([['a'.repeat(3000), 'b'.repeat(3000)]], { sharedStrings: true });
    expect((await failure(rowsOf(strings, { maxSharedStringBytes: 5000 }))).message).toBe(
      'in.xlsx: refusing to read the workbook: shared strings in xl/sharedStrings.xml hold over 5000 characters of ' +
        'text, the cap (maxSharedStringBytes)',
    );
  });
});

/** A real workbook (written by writeXlsx) with one more entry added by `extra`. */
async function workbookWith(extra: (zip: ZipWriter) => Promise<void>, sheetXml?: string): Promise<string> {
  const file = nextFile();
  const zip = await ZipWriter.create(file);
  await addWorkbookParts(zip);
  if (sheetXml !== undefined) await zip.add('xl/worksheets/sheet1.xml', sheetXml);
  await extra(zip);
  await zip.close();
  return file;
}

async function timedFailure(file: string, options?: XlsxReadOptions): Promise<{ err: InputError; ms: number }> {
  const started = performance.now();
  const err = await failure(rowsOf(file, options));
  return { err, ms: performance.now() - started };
}

describe('readXlsxRows: zip bombs and lying sizes', () => {
  const GiB = 1 << 30;
  const MiB = 1 << 20;

  it('refuses an honest 2 GiB entry from its declared size, before inflating anything', async () => {
    const zeros = deflatedZeros(2 * GiB);
    const file = await workbookWith((zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: zeros.data,
        crc32: zeros.crc32,
        uncompressedSize: 2 * GiB,
      }),
    );
    expect(statSync(file).size).toBeLessThan(4 * MiB);
    const { err, ms } = await timedFailure(file);
    expect(err.message).toBe(
      'in.xlsx: refusing to read the workbook: zip entry "xl/worksheets/sheet1.xml" declares 2147483648 bytes ' +
        'inflated, over the cap of 1073741824 bytes (maxInflatedBytes); a zip bomb?',
    );
    expect(err.location).toEqual({ file: 'in.xlsx' });
    expect(ms).toBeLessThan(1000);
  });

  it('refuses entries whose sizes add up past the cap', async () => {
    const zeros = deflatedZeros(768 * MiB);
    const file = await workbookWith(async (zip) => {
      for (const name of ['xl/media/a.bin', 'xl/media/b.bin']) {
        await zip.addRaw(name, { method: 8, data: zeros.data, crc32: zeros.crc32, uncompressedSize: 768 * MiB });
      }
    });
    const { err, ms } = await timedFailure(file, { maxRatio: 5000 });
    expect(err.message).toMatch(
      /^in\.xlsx: refusing to read the workbook: zip entries declare at least \d+ bytes inflated in total, over the cap of 1073741824 bytes \(maxInflatedBytes\)/,
    );
    expect(ms).toBeLessThan(1000);
  });

  it('refuses an entry that would inflate over 200 times its size', async () => {
    const zeros = deflatedZeros(64 * MiB);
    const file = await workbookWith((zip) =>
      zip.addRaw('xl/sharedStrings.xml', {
        method: 8,
        data: zeros.data,
        crc32: zeros.crc32,
        uncompressedSize: 64 * MiB,
      }),
    );
    const { err, ms } = await timedFailure(file);
    expect(err.message).toMatch(
      /^in\.xlsx: refusing to read the workbook: zip entry "xl\/sharedStrings\.xml" declares 67108864 bytes inflated from \d+ \(ratio \d+:1\), over the cap of 200:1 \(maxRatio\); a zip bomb\?$/,
    );
    expect(ms).toBeLessThan(1000);
  });

  it('refuses more entries than the cap from the directory', async () => {
    const file = await workbookWith(async (zip) => {
      for (let i = 0; i < 10_000; i++) await zip.add(`xl/media/${i}.txt`, '', 0);
    });
    const { err, ms } = await timedFailure(file);
    expect(err.message).toBe(
      'in.xlsx: refusing to read the workbook: the zip archive has 10004 entries, over the cap of 10000 (maxEntries)',
    );
    expect(ms).toBeLessThan(1000);
  });

  it('stops an entry that inflates to more than it declares', async () => {
    // 10 MiB of sheet XML that claims to be 1000 bytes: too small for the ratio check, so only counting catches it.
    const rows = Array.from({ length: 100_000 }, (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>${i}</v></c></row>`);
    const xml = Buffer.from(sheet(rows.join('')));
    expect(xml.length).toBeGreaterThan(4 * MiB);
    const file = await workbookWith((zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: [deflateRawSync(xml)],
        crc32: crc32(xml),
        uncompressedSize: 1000,
      }),
    );
    const started = performance.now();
    const seen: XlsxRow[] = [];
    const err = await failure(
      (async () => {
        for await (const row of readXlsxRows(file, 'in.xlsx')) seen.push(row);
      })(),
    );
    expect(err.message).toBe(
      'in.xlsx: zip entry "xl/worksheets/sheet1.xml" inflates to more than the 1000 bytes it declares; a zip bomb?',
    );
    expect(seen).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reports an entry that inflates to less than it declares, or fails its CRC', async () => {
    const xml = Buffer.from(sheet('<row r="1"><c r="A1"><v>1</v></c></row>'));
    const short = await workbookWith((zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: [deflateRawSync(xml)],
        crc32: crc32(xml),
        uncompressedSize: xml.length + 10,
      }),
    );
    expect((await failure(rowsOf(short))).message).toMatch(
      /^in\.xlsx: zip entry "xl\/worksheets\/sheet1\.xml" is (corrupt|truncated): .*\d+/,
    );
    const badCrc = await workbookWith((zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: [deflateRawSync(xml)],
        crc32: crc32(xml) ^ 1,
        uncompressedSize: xml.length,
      }),
    );
    expect((await failure(rowsOf(badCrc))).message).toBe(
      'in.xlsx: zip entry "xl/worksheets/sheet1.xml" is corrupt: its CRC-32 does not match',
    );
    const encrypted = await workbookWith((zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: [deflateRawSync(xml)],
        crc32: crc32(xml),
        uncompressedSize: xml.length,
        flags: 1,
      }),
    );
    expect((await failure(rowsOf(encrypted))).message).toBe(
      'in.xlsx: zip entry "xl/worksheets/sheet1.xml" is encrypted; save the workbook without a password',
    );
  });
});

describe('500,000 rows', () => {
  it('writes a 500,000-row workbook as a stream and reads every row back', async () => {
    const file = nextFile();
    const header = ['claim_id', 'member', 'amount', 'service_date', 'approved'];
    const count = 500_000;
    function* rows(): Generator<XlsxCellValue[]> {
      yield header;
      for (let i = 1; i <= count; i++) {
        yield [
          `CL-${String(i).padStart(7, '0')}`,
          `member ${(i * 7919) % 100_003}`,
          { value: (i * 0.37).toFixed(2), format: '0.00' },
          new Date(Date.UTC(2024, 0, 1) + i * 60_000),
          i % 3 === 0,
        ];
      }
    }
    let started = performance.now();
    const written = await writeXlsx(file, [{ name: 'Claims', rows: rows() }]);
    const writeMs = performance.now() - started;
    expect(written.rows).toBe(count + 1);

    started = performance.now();
    let n = 0;
    let first: XlsxRecord | undefined;
    let last: XlsxRecord | undefined;
    for await (const record of readXlsxRecords(file, 'big.xlsx')) {
      first ??= record;
      last = record;
      n++;
    }
    const readMs = performance.now() - started;
    console.log(
      `500k-row XLSX: ${(written.bytes / 1e6).toFixed(1)} MB written in ${(writeMs / 1000).toFixed(1)} s; ` +
        `read in ${(readMs / 1000).toFixed(1)} s (${Math.round(count / (readMs / 1000))} rows/s)`,
    );
    expect(n).toBe(count);
    expect(first).toEqual({
      rowNo: 2,
      position: 'sheet "Claims" row 2',
      fields: {
        claim_id: 'CL-0000001',
        member: 'member 7919',
        amount: '0.37',
        service_date: '2024-01-01T00:01:00',
        approved: 'FALSE',
      },
    });
    expect(last).toEqual({
      rowNo: count + 1,
      position: `sheet "Claims" row ${count + 1}`,
      fields: {
        claim_id: 'CL-0500000',
        member: `member ${(count * 7919) % 100_003}`,
        amount: '185000.00',
        service_date: '2024-12-13T05:20:00',
        approved: 'FALSE',
      },
    });
  }, 90_000);
});
