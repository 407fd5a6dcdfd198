/**
 * Fixes found by the hostile-input corpus (test/integration/hostile-input.test.ts): text that is not text (a NUL,
 * bytes that are not UTF-8) is held with a field-level issue instead of committed damaged or failing the commit, and a
 * JSON number a double cannot hold is never rounded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planCsvChunks, readCsvChunk } from '../../src/formats/csv.ts';
import type { CsvFormatOptions, CsvLayout } from '../../src/formats/csv.ts';
import { exactNumbers, readJsonArray, readNdjson } from '../../src/formats/json.ts';
import type { JsonItem } from '../../src/formats/json.ts';
import { planStaged, readStagedChunk } from '../../src/formats/staged.ts';
import type { StagedRecord } from '../../src/formats/staged.ts';
import { checkText } from '../../src/formats/unreadable-text.ts';
import { customsProfile } from '../../src/profiles/customs/index.ts';
import { InputError } from '../../src/profiles/types.ts';
import type { ChunkPlan, SourceRecord } from '../../src/profiles/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function fixture(content: string | Buffer, ext = 'csv'): string {
  const file = join(dir, `f${fileNo++}.${ext}`);
  writeFileSync(file, content);
  return file;
}

async function readCsv(file: string, format: CsvFormatOptions = {}): Promise<SourceRecord[]> {
  let layout: CsvLayout | undefined;
  const chunks: ChunkPlan[] = [];
  for await (const item of planCsvChunks(file, 'in.csv', { maxRecords: 1000, maxBytes: 1 << 20 }, format)) {
    if ('layout' in item) layout = item.layout;
    else chunks.push(item);
  }
  const records: SourceRecord[] = [];
  for (const chunk of chunks) records.push(...(await readCsvChunk(file, 'in.csv', layout!, chunk)));
  return records;
}

const UTF8_MESSAGE = (field: string) =>
  `${field} holds U+FFFD in place of bytes that are not valid UTF-8 (is the file in another encoding, such as windows-1252?)`;
const NUL_MESSAGE = (field: string) => `${field} holds a NUL character (shown as U+FFFD), which is not text`;

describe('checkText', () => {
  it('finds NULs and replacement characters at any depth, replacing NULs, and leaves clean values alone', () => {
    const clean = { a: 'x', lines: [{ n: 1, d: 'ok' }] };
    expect(checkText(clean)).toEqual({ value: clean, issues: [] });
    const { value, issues } = checkText({
      name: 'Caf\ufffd',
      lines: [{ description: 'bolt\u0000nut', qty: 2 }],
      'a\u0000b': 'x',
    });
    expect(value).toEqual({ name: 'Caf\ufffd', lines: [{ description: 'bolt\ufffdnut', qty: 2 }], 'a\ufffdb': 'x' });
    expect(issues).toEqual([
      { path: 'name', code: 'invalid_utf8', message: UTF8_MESSAGE('name'), value: 'Caf\ufffd' },
      {
        path: 'lines[0].description',
        code: 'nul_character',
        message: NUL_MESSAGE('lines[0].description'),
        value: 'bolt\ufffdnut',
      },
      { path: 'a\ufffdb', code: 'nul_character', message: 'the name of a\ufffdb holds a NUL character' },
    ]);
    expect(JSON.stringify(value)).not.toContain('\\u0000');
  });

  it('replaces lone UTF-16 surrogates, in values and keys, but keeps surrogate pairs', () => {
    const { value, issues } = checkText({ a: 'x\ud800y', b: 'emoji \ud83d\ude00', c: ['\udc00'], ['k\udbff']: 1 });
    expect(value).toEqual({ a: 'x\ufffdy', b: 'emoji \ud83d\ude00', c: ['\ufffd'], 'k\ufffd': 1 });
    const lone = 'a lone UTF-16 surrogate (a \\u escape of half a character)';
    expect(issues).toEqual([
      {
        path: 'a',
        code: 'lone_surrogate',
        message: `a holds ${lone} (shown as U+FFFD), which is not text`,
        value: 'x\ufffdy',
      },
      {
        path: 'c[0]',
        code: 'lone_surrogate',
        message: `c[0] holds ${lone} (shown as U+FFFD), which is not text`,
        value: '\ufffd',
      },
      { path: 'k\ufffd', code: 'lone_surrogate', message: `the name of k\ufffd holds ${lone}` },
    ]);
  });

  it('keeps a __proto__ key a key', () => {
    const { value } = checkText(JSON.parse('{"__proto__":{"x":"\\u0000"}}') as object);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
  });
});

describe('CSV records with text that is not text', () => {
  it('reads a record with bytes that are not UTF-8, or a NUL, with a parse issue naming the field', async () => {
    const file = fixture(
      Buffer.concat([
        Buffer.from('id,name\n1,ok\n2,Caf'),
        Buffer.from([0xe9]), // é in windows-1252
        Buffer.from('\n3,"a\u0000b"\n4,Café\n'),
      ]),
    );
    const records = await readCsv(file);
    expect(records.map((r) => [r.recordNo, r.location, r.fields, r.parseIssues])).toEqual([
      [1, { file: 'in.csv', line: 2, byteOffset: 8 }, { id: '1', name: 'ok' }, undefined],
      [
        2,
        { file: 'in.csv', line: 3, byteOffset: 13 },
        { id: '2', name: 'Caf\ufffd' },
        [{ path: 'name', code: 'invalid_utf8', message: UTF8_MESSAGE('name'), value: 'Caf\ufffd' }],
      ],
      [
        3,
        { file: 'in.csv', line: 4, byteOffset: 20 },
        { id: '3', name: 'a\ufffdb' },
        [{ path: 'name', code: 'nul_character', message: NUL_MESSAGE('name'), value: 'a\ufffdb' }],
      ],
      [4, { file: 'in.csv', line: 5, byteOffset: 28 }, { id: '4', name: 'Café' }, undefined],
    ]);
  });

  it('reads NULs in windows-1252 files as issues too, but not the bytes UTF-8 would refuse', async () => {
    const file = fixture(Buffer.from('id,name\n1,Caf\u00e9\n2,x\u0000\n', 'latin1'));
    const records = await readCsv(file, { encoding: 'windows-1252' });
    expect(records.map((r) => [r.fields.name, r.parseIssues?.map((i) => i.code)])).toEqual([
      ['Café', undefined],
      ['x\ufffd', ['nul_character']],
    ]);
  });

  it('refuses a header name with a NUL or bytes that are not UTF-8, naming the column', async () => {
    const planError = async (content: Buffer): Promise<InputError> => {
      try {
        await readCsv(fixture(content));
      } catch (err) {
        expect(err).toBeInstanceOf(InputError);
        return err as InputError;
      }
      throw new Error('planning did not fail');
    };
    const latin1 = await planError(Buffer.from('id,Gr\u00f6\u00dfe\n1,2\n', 'latin1'));
    expect(latin1.message).toBe(
      'in.csv: line 1 (byte 0): header column 2 is not valid UTF-8 (is the file windows-1252? set batch_config.input.encoding)',
    );
    expect(latin1.location).toEqual({ file: 'in.csv', line: 1, byteOffset: 0 });
    const nul = await planError(Buffer.from('\n\nid,na\u0000me\n1,2\n'));
    expect(nul.message).toBe('in.csv: line 3 (byte 2): header column 2 holds a NUL character');
  });
});

describe('staged records with text that is not text', () => {
  it('stages a NUL or lone surrogate as U+FFFD with a parse issue, in fields, locations and reader issues alike', async () => {
    const staged = join(dir, 'staged.ndjson');
    const input: StagedRecord[] = [
      { fields: { a: 'fine' }, location: { file: 'in.edi', position: 'set 1' } },
      { fields: { lines: [{ d: 'x\u0000' }] }, location: { file: 'in.edi', position: 'set\u00002' } },
      {
        fields: { a: 'Caf\ufffd' },
        location: { file: 'in.edi' },
        parseIssues: [{ path: '', code: 'invalid_transaction_set', message: 'found "\u0000"' }],
      },
      { fields: { d: 'half \udfff' }, location: { file: 'in.edi' } },
    ];
    async function* source(): AsyncGenerator<StagedRecord> {
      yield* input;
    }
    const chunks: ChunkPlan[] = [];
    for await (const chunk of planStaged(source(), staged, { maxRecords: 10, maxBytes: 1 << 20 })) chunks.push(chunk);
    expect(readFileSync(staged, 'utf8')).not.toContain('\\u0000');
    const records = await readStagedChunk(staged, 'in.edi', chunks[0]!);
    expect(records).toEqual([
      { recordNo: 1, ...input[0] },
      {
        recordNo: 2,
        fields: { lines: [{ d: 'x\ufffd' }] },
        location: { file: 'in.edi', position: 'set\ufffd2' },
        parseIssues: [
          { path: 'lines[0].d', code: 'nul_character', message: NUL_MESSAGE('lines[0].d'), value: 'x\ufffd' },
        ],
      },
      {
        recordNo: 3,
        fields: { a: 'Caf\ufffd' },
        location: { file: 'in.edi' },
        parseIssues: [
          { path: '', code: 'invalid_transaction_set', message: 'found "\ufffd"' },
          { path: 'a', code: 'invalid_utf8', message: UTF8_MESSAGE('a'), value: 'Caf\ufffd' },
        ],
      },
      {
        recordNo: 4,
        fields: { d: 'half \ufffd' },
        location: { file: 'in.edi' },
        parseIssues: [expect.objectContaining({ path: 'd', code: 'lone_surrogate', value: 'half \ufffd' })],
      },
    ]);
    expect(readFileSync(staged, 'utf8')).not.toMatch(/\\ud[89a-f]/);
  });
});

describe('JSON numbers a double cannot hold', () => {
  it('keeps them as their text, with an issue at their path; numbers read as written are left alone', () => {
    const text =
      '{"a":9007199254740993,"b":[1.50,1e3,-0,0.1,123456789012345678],"c":{"d e":1e400,"f":1e-400},' +
      '"s":"9007199254740993e5","g":9007199254740991,"h":0.30000000000000004,"i":1.0000000000000000001}';
    const { value, issues } = exactNumbers(text, JSON.parse(text));
    expect(value).toEqual({
      a: '9007199254740993',
      b: [1.5, 1000, -0, 0.1, '123456789012345678'],
      c: { 'd e': '1e400', f: '1e-400' },
      s: '9007199254740993e5',
      g: 9007199254740991,
      h: 0.30000000000000004,
      i: '1.0000000000000000001',
    });
    expect(issues!.map((i) => [i.path, i.code, i.value])).toEqual([
      ['a', 'inexact_number', '9007199254740993'],
      ['b[4]', 'inexact_number', '123456789012345678'],
      ['c.d e', 'inexact_number', '1e400'],
      ['c.f', 'inexact_number', '1e-400'],
      ['i', 'inexact_number', '1.0000000000000000001'],
    ]);
    expect(issues![0]!.message).toBe(
      'a: the number 9007199254740993 cannot be held exactly (it would read as 9007199254740992); write it as a string, "9007199254740993"',
    );
    expect(issues![2]!.message).toContain('(it would read as Infinity)');
    expect(exactNumbers('[1,2.5,{"x":12345}]', [1, 2.5, { x: 12345 }])).toEqual({ value: [1, 2.5, { x: 12345 }] });
  });

  it('reach NDJSON and JSON array items as issues, with the exact text as the value', async () => {
    const lines = '{"id":"a","qty":9007199254740993}\n{"id":"b","qty":7}\n';
    const items: JsonItem[] = [];
    for await (const item of readNdjson(fixture(lines, 'ndjson'), 'in.ndjson')) items.push(item);
    for await (const item of readJsonArray(
      fixture(`{"rows":[${lines.trim().split('\n').join(',')}]}`, 'json'),
      'in.json',
    ))
      items.push(item);
    expect(items.map((i) => [i.position, i.value, i.issues?.map((x) => `${x.path}:${x.code}`)])).toEqual([
      ['line 1', { id: 'a', qty: '9007199254740993' }, ['qty:inexact_number']],
      ['line 2', { id: 'b', qty: 7 }, undefined],
      ['$.rows[0]', { id: 'a', qty: '9007199254740993' }, ['qty:inexact_number']],
      ['$.rows[1]', { id: 'b', qty: 7 }, undefined],
    ]);
  });

  it('hold a customs invoice as a parse error naming the field, never committed rounded', async () => {
    const invoice =
      '{"invoice_number":"BIG-1","invoice_date":"2024-03-01","exporter":{"id":"GB123456789000","name":"T","country":"GB"},' +
      '"importer":{"id":"US987654321000","name":"G","country":"US"},"incoterm":"FOB","currency":"USD","invoice_total":5,' +
      '"lines":[{"line_no":1,"description":"Oak table","quantity":9007199254740993,"unit":"PR","unit_price":1,' +
      '"line_total":5,"hs_code":"9403609000","origin_country":"GB"}]}\n';
    const file = fixture(invoice, 'ndjson');
    let layout: Record<string, unknown> = {};
    const chunks: ChunkPlan[] = [];
    for await (const item of customsProfile.plan(
      file,
      'in.ndjson',
      { maxRecords: 10, maxBytes: 1 << 20 },
      { format: 'ndjson' },
    )) {
      if ('layout' in item) layout = item.layout;
      else chunks.push(item);
    }
    const [record] = await customsProfile.readChunk(file, 'in.ndjson', layout, chunks[0]!);
    expect(record!.parseIssues).toEqual([
      {
        path: 'lines[0].quantity',
        code: 'inexact_number',
        message:
          'lines[0].quantity: the number 9007199254740993 cannot be held exactly (it would read as ' +
          '9007199254740992); write it as a string, "9007199254740993"',
        value: '9007199254740993',
      },
    ]);
    expect((record!.fields.lines as { quantity: unknown }[])[0]!.quantity).toBe('9007199254740993');
  });
});
