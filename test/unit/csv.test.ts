import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { planCsvChunks, readCsvChunk, toCsvLayout } from '../../src/formats/csv.ts';
import type { CsvLayout, CsvPlanLimits } from '../../src/formats/csv.ts';
import { InputError } from '../../src/profiles/types.ts';
import type { ChunkPlan, SourceRecord } from '../../src/profiles/types.ts';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function fixture(content: string | Buffer): string {
  const file = join(dir, `f${fileNo++}.csv`);
  writeFileSync(file, content);
  return file;
}

const roomy: CsvPlanLimits = { maxRecords: 1000, maxBytes: 1 << 20 };

async function plan(file: string, limits: CsvPlanLimits = roomy): Promise<{ layout: CsvLayout; chunks: ChunkPlan[] }> {
  let layout: CsvLayout | undefined;
  const chunks: ChunkPlan[] = [];
  for await (const item of planCsvChunks(file, 'in.csv', limits)) {
    if ('layout' in item) {
      expect(layout, 'layout comes once, before any chunk').toBeUndefined();
      expect(chunks).toHaveLength(0);
      layout = item.layout;
    } else {
      chunks.push(item);
    }
  }
  if (layout === undefined) throw new Error('no layout');
  return { layout, chunks };
}

async function readAll(file: string, limits: CsvPlanLimits = roomy): Promise<SourceRecord[]> {
  const { layout, chunks } = await plan(file, limits);
  const records: SourceRecord[] = [];
  for (const chunk of chunks) records.push(...(await readCsvChunk(file, 'in.csv', layout, chunk)));
  return records;
}

async function planError(file: string, limits: CsvPlanLimits = roomy): Promise<InputError> {
  try {
    await plan(file, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('planning did not fail');
}

describe('planCsvChunks', () => {
  it('reads the header and plans one chunk of whole records', async () => {
    const file = fixture(' id , name\n1,a\n2,b\n');
    const { layout, chunks } = await plan(file);
    expect(layout).toEqual({ header: ['id', 'name'], delimiter: ',', bom: false, headerLine: 1, dataStartByte: 11 });
    expect(chunks).toEqual([{ chunkNo: 0, byteStart: 11, byteEnd: 19, firstRecord: 1, recordCount: 2, firstLine: 2 }]);
  });

  it('keeps a line break inside a quoted field in its record', async () => {
    const file = fixture('id,note\n1,"two\nlines, and ""quotes"""\n2,"x"\n');
    const { chunks } = await plan(file);
    expect(chunks.map((c) => c.recordCount)).toEqual([2]);
    const records = await readAll(file);
    expect(records.map((r) => r.fields)).toEqual([
      { id: '1', note: 'two\nlines, and "quotes"' },
      { id: '2', note: 'x' },
    ]);
    expect(records.map((r) => r.location.line)).toEqual([2, 4]);
  });

  it('handles CRLF line endings', async () => {
    const file = fixture('id,name\r\n1,a\r\n2,"b\r\nc"\r\n3,d\r\n');
    const records = await readAll(file);
    expect(records.map((r) => r.fields)).toEqual([
      { id: '1', name: 'a' },
      { id: '2', name: 'b\r\nc' },
      { id: '3', name: 'd' },
    ]);
    expect(records.map((r) => r.location)).toEqual([
      { file: 'in.csv', line: 2, byteOffset: 9 },
      { file: 'in.csv', line: 3, byteOffset: 14 },
      { file: 'in.csv', line: 5, byteOffset: 24 },
    ]);
  });

  it('skips a UTF-8 byte order mark', async () => {
    const file = fixture(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,name\n1,é\n')]));
    const { layout, chunks } = await plan(file);
    expect(layout).toMatchObject({ header: ['id', 'name'], bom: true, dataStartByte: 11 });
    expect(chunks[0]).toMatchObject({ byteStart: 11, recordCount: 1 });
    expect((await readAll(file))[0]?.fields).toEqual({ id: '1', name: 'é' });
  });

  it('skips blank lines without counting them as records', async () => {
    const file = fixture('\n\nid,name\n\n1,a\r\n\r\n\n2,b\n\n');
    const { layout, chunks } = await plan(file, { maxRecords: 1, maxBytes: 1000 });
    expect(layout).toMatchObject({ headerLine: 3, dataStartByte: 10 });
    expect(chunks.map((c) => [c.firstRecord, c.recordCount, c.firstLine])).toEqual([
      [1, 1, 5],
      [2, 1, 8],
    ]);
    const records = await readAll(file);
    expect(records.map((r) => [r.recordNo, r.location.line, r.fields])).toEqual([
      [1, 5, { id: '1', name: 'a' }],
      [2, 8, { id: '2', name: 'b' }],
    ]);
  });

  it('keeps a last record that has no line break', async () => {
    const file = fixture('id,name\n1,a\n2,"b"');
    const { chunks } = await plan(file);
    expect(chunks[0]).toMatchObject({ recordCount: 2, byteEnd: 17 });
    expect((await readAll(file)).map((r) => r.fields)).toEqual([
      { id: '1', name: 'a' },
      { id: '2', name: 'b' },
    ]);
  });

  it('yields the layout and no chunks for an empty file or a header-only file', async () => {
    expect(await plan(fixture(''))).toEqual({
      layout: { header: [], delimiter: ',', bom: false, headerLine: 1, dataStartByte: 0 },
      chunks: [],
    });
    expect(await plan(fixture('id,name\n\n'))).toMatchObject({ layout: { header: ['id', 'name'] }, chunks: [] });
    expect(await plan(fixture('id,name'))).toMatchObject({ layout: { header: ['id', 'name'] }, chunks: [] });
  });

  it('fills chunks up to maxRecords', async () => {
    const file = fixture('n\n' + Array.from({ length: 10 }, (_, i) => `${i + 1}\n`).join(''));
    const { chunks } = await plan(file, { maxRecords: 3, maxBytes: 1000 });
    expect(chunks.map((c) => [c.chunkNo, c.firstRecord, c.recordCount])).toEqual([
      [0, 1, 3],
      [1, 4, 3],
      [2, 7, 3],
      [3, 10, 1],
    ]);
    // No blank lines here, so the chunks tile the data exactly.
    chunks.slice(1).forEach((c, i) => expect(c.byteStart).toBe(chunks[i]!.byteEnd));
    expect(chunks.at(-1)?.byteEnd).toBe(readFileSync(file).length);
  });

  it('fills chunks up to maxBytes, and gives a record larger than maxBytes a chunk of its own', async () => {
    // Records are 6 bytes each except the 31-byte third one.
    const big = 'c,' + 'x'.repeat(28);
    const file = fixture(`k,v\na,123\nb,456\n${big}\nd,789\ne,012\nf,345\n`);
    const { chunks } = await plan(file, { maxRecords: 100, maxBytes: 12 });
    expect(chunks.map((c) => [c.firstRecord, c.recordCount, c.byteEnd - c.byteStart])).toEqual([
      [1, 2, 12],
      [3, 1, 31],
      [4, 2, 12],
      [6, 1, 6],
    ]);
  });

  it('rejects a record longer than maxRecordBytes, naming the file, line and byte offset', async () => {
    const file = fixture(`id,v\n1,ok\n2,${'x'.repeat(40)}\n3,ok\n`);
    const err = await planError(file, { maxRecords: 10, maxBytes: 1000, maxRecordBytes: 32 });
    expect(err.message).toMatch(/^in\.csv: line 3 \(byte 10\): record is longer than 32 bytes/);
    expect(err.location).toEqual({ file: 'in.csv', line: 3, byteOffset: 10 });
    // The same record fits the default 1 MiB limit.
    expect((await plan(file)).chunks[0]?.recordCount).toBe(3);
  });

  it('stops at a runaway record (an unclosed quote) with a hint', async () => {
    const file = fixture(`id,v\n1,ok\n2,"never closed\n${'3,filler\n'.repeat(300_000)}`);
    const err = await planError(file);
    expect(err.message).toMatch(/^in\.csv: line 3 \(byte 10\): record is longer than 1048576 bytes/);
    expect(err.message).toContain('quoted field opened at line 3 may be missing its closing quote');
  });

  it('rejects a quoted field still open at the end of the file', async () => {
    const err = await planError(fixture('id,v\n1,ok\n2,"open\n3,x\n'));
    expect(err.message).toBe('in.csv: line 3 (byte 12): quoted field is not closed before the end of the input');
    expect(err.location).toEqual({ file: 'in.csv', line: 3, byteOffset: 12 });
  });

  it('rejects empty and duplicate header names', async () => {
    expect((await planError(fixture('id,,v\n1,2,3\n'))).message).toContain('header column 2 has an empty name');
    expect((await planError(fixture('id, v ,v\n1,2,3\n'))).message).toContain('header column 3 repeats the name "v"');
    expect((await planError(fixture('\nid,\n1\n'))).location).toMatchObject({ line: 2, byteOffset: 1 });
    expect((await planError(fixture('id,__proto__\n1,2\n'))).message).toContain('header column 2 has a reserved name');
  });

  it('rejects a file with carriage returns alone as line breaks', async () => {
    expect((await planError(fixture('id,v\r1,2\r3,4\r'))).message).toBe(
      'in.csv: line 1 (byte 0): header contains a carriage return that does not end a line',
    );
  });

  it('finds record boundaries across read buffers (1 MiB)', async () => {
    const MiB = 1 << 20;
    const limits = { ...roomy, maxRecordBytes: 4 * MiB };
    // An escaped quote pair split across the buffer boundary, followed by a quoted line break.
    const head = 'id,v\n1,"';
    const escaped = fixture(`${head}${'a'.repeat(MiB - 1 - head.length)}""\nmore",x\n2,y\n`);
    expect(readFileSync(escaped)[MiB - 1]).toBe(0x22);
    expect((await readAll(escaped, limits)).map((r) => r.fields)).toEqual([
      { id: '1', v: `${'a'.repeat(MiB - 1 - head.length)}"\nmore`, _extra_1: 'x' },
      { id: '2', v: 'y' },
    ]);
    // A closing quote as the last byte of a buffer, its line break in the next.
    const closing = fixture(`${head}${'a'.repeat(MiB - 1 - head.length)}"\n2,y\n`);
    expect(readFileSync(closing)[MiB - 1]).toBe(0x22);
    const records = await readAll(closing, limits);
    expect(records.map((r) => [r.recordNo, r.location.line, r.fields.id])).toEqual([
      [1, 2, '1'],
      [2, 3, '2'],
    ]);
  });
});

describe('readCsvChunk', () => {
  it('names extra cells _extra_N and leaves missing trailing cells absent', async () => {
    const records = await readAll(fixture('a,b,c\n1,2,3,4,5\n1\n,,\n'));
    expect(records.map((r) => r.fields)).toEqual([
      { a: '1', b: '2', c: '3', _extra_1: '4', _extra_2: '5' },
      { a: '1' },
      { a: '', b: '', c: '' },
    ]);
  });

  it('splits cells exactly as csv-parse does, quotes in odd places included', async () => {
    const data = [
      'plain,"quoted, comma","with ""escaped"" quotes"',
      '5" tube,mid"quote,"closed"then text',
      'a 27" monitor,b,c',
      '"",,"a\nb"',
      ' "spaced",x"y",\r',
      'unicode é ü 漢字,"漢,字",end',
      '"first\nfield",x,y',
    ].join('\n');
    const file = fixture(`a,b,c\n${data}\n`);
    const expected = parse(data, {
      record_delimiter: ['\r\n', '\n'],
      relax_quotes: true,
      relax_column_count: true,
    }) as string[][];
    const records = await readAll(file, { maxRecords: 2, maxBytes: 1000 });
    expect(records.map((r) => Object.values(r.fields))).toEqual(expected);
    expect(records[1]?.fields).toEqual({ a: '5" tube', b: 'mid"quote', c: '"closed"then text' });
    expect(records[2]?.fields).toEqual({ a: 'a 27" monitor', b: 'b', c: 'c' });
  });

  it('reads every record of a generated file exactly once, in order, across many chunks', async () => {
    const file = join(dir, 'generated.csv');
    await generateInventoryManifest(file, {
      records: 5000,
      seed: 11,
      defects: { missing_field: 0.1, nonstandard_location: 0.1 },
    });
    const { layout, chunks } = await plan(file, { maxRecords: 37, maxBytes: 1500 });
    expect(chunks.length).toBeGreaterThan(5000 / 37);
    const records: SourceRecord[] = [];
    for (const chunk of chunks) {
      const read = await readCsvChunk(file, 'in.csv', layout, chunk);
      expect(read).toHaveLength(chunk.recordCount);
      expect(read.map((r) => r.recordNo)).toEqual(
        Array.from({ length: chunk.recordCount }, (_, i) => chunk.firstRecord + i),
      );
      records.push(...read);
    }
    expect(records.map((r) => r.recordNo)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));

    // Same cells as csv-parse over the whole file; each location points at its record's first byte and line.
    const bytes = readFileSync(file);
    const whole = parse(bytes, { columns: true, relax_column_count: true }) as Array<Record<string, string>>;
    expect(records.map((r) => r.fields)).toEqual(whole);
    expect(records.some((r) => String(r.fields.category).includes('\n'))).toBe(true);
    let line = 1;
    let scanned = 0;
    for (const r of records) {
      const offset = r.location.byteOffset!;
      for (; scanned < offset; scanned++) if (bytes[scanned] === 0x0a) line++;
      expect(bytes.toString('utf8', offset, offset + String(r.fields.asset_id).length)).toBe(r.fields.asset_id);
      expect(r.location.line).toBe(line);
    }
  });

  it('rejects a chunk whose bytes no longer hold the planned records', async () => {
    const file = fixture('id\n1\n2\n3\n');
    const { layout, chunks } = await plan(file);
    writeFileSync(file, 'id\n1\n2\n\n\n');
    const read = readCsvChunk(file, 'in.csv', layout, chunks[0]!);
    await expect(read).rejects.toThrow(InputError);
    await expect(read).rejects.toThrow('chunk 0 (bytes 3-9) was planned with 3 records but holds 2');
  });

  it('round-trips the layout through JSON', async () => {
    const { layout } = await plan(fixture('a,b\n1,2\n'));
    expect(toCsvLayout(JSON.parse(JSON.stringify(layout)) as Record<string, unknown>)).toEqual(layout);
    expect(() => toCsvLayout({ header: 'a,b' })).toThrow(TypeError);
  });
});

describe('delimiter and encoding options', () => {
  async function planWith(
    file: string,
    format: Parameters<typeof planCsvChunks>[3],
    limits: CsvPlanLimits = roomy,
  ): Promise<{ layout: CsvLayout; chunks: ChunkPlan[] }> {
    let layout: CsvLayout | undefined;
    const chunks: ChunkPlan[] = [];
    for await (const item of planCsvChunks(file, 'in.csv', limits, format)) {
      if ('layout' in item) layout = item.layout;
      else chunks.push(item);
    }
    if (layout === undefined) throw new Error('no layout');
    return { layout, chunks };
  }

  async function readWith(
    file: string,
    format: Parameters<typeof planCsvChunks>[3],
    limits: CsvPlanLimits = roomy,
  ): Promise<{ layout: CsvLayout; records: SourceRecord[] }> {
    const { layout, chunks } = await planWith(file, format, limits);
    // Readers get the delimiter and encoding from the stored layout, as a chunk activity would.
    const stored = toCsvLayout(JSON.parse(JSON.stringify(layout)) as Record<string, unknown>);
    const records: SourceRecord[] = [];
    for (const chunk of chunks) records.push(...(await readCsvChunk(file, 'in.csv', stored, chunk)));
    return { layout, records };
  }

  it('plans and reads semicolon-delimited files, quoted semicolons and line breaks included', async () => {
    const file = fixture('id; name ;note\n1;Ana;"a;b"\n2;Bo;"two\nlines"\n3;"Cé";\n');
    const { layout, records } = await readWith(file, { delimiter: ';' }, { maxRecords: 2, maxBytes: 1000 });
    expect(layout).toEqual({
      header: ['id', 'name', 'note'],
      delimiter: ';',
      bom: false,
      headerLine: 1,
      dataStartByte: 15,
    });
    expect(records.map((r) => [r.recordNo, r.location.line, r.fields])).toEqual([
      [1, 2, { id: '1', name: 'Ana', note: 'a;b' }],
      [2, 3, { id: '2', name: 'Bo', note: 'two\nlines' }],
      [3, 5, { id: '3', name: 'Cé', note: '' }],
    ]);
  });

  it('plans and reads tab-delimited files, where commas are ordinary text', async () => {
    const file = fixture('id\tamount\tnote\r\n1\t1,50\t"tab\there"\r\n2\t2,00\tplain, text\r\n');
    const { layout, records } = await readWith(file, { delimiter: '\t' });
    expect(layout.delimiter).toBe('\t');
    expect(records.map((r) => r.fields)).toEqual([
      { id: '1', amount: '1,50', note: 'tab\there' },
      { id: '2', amount: '2,00', note: 'plain, text' },
    ]);
  });

  it('decodes windows-1252: é, ü and the € at 0x80 that latin1 does not have', async () => {
    // "name;price;note\nCafé;€ 5;"Müller, “quoted”"\nüber;€1,50;x\n" in windows-1252.
    const cp1252 = (text: string): Buffer =>
      Buffer.from([...text].map((ch) => ({ '€': 0x80, '“': 0x93, '”': 0x94 })[ch] ?? ch.charCodeAt(0)));
    const bytes = cp1252('name;price;note\nCafé;€ 5;"Müller, “quoted”"\nüber;€1,50;x\n');
    expect(bytes.includes(0xc3)).toBe(false);
    expect([...bytes.subarray(16, 25)]).toEqual([0x43, 0x61, 0x66, 0xe9, 0x3b, 0x80, 0x20, 0x35, 0x3b]);
    const file = fixture(bytes);
    const { layout, records } = await readWith(file, { delimiter: ';', encoding: 'windows-1252' });
    expect(layout).toEqual({
      header: ['name', 'price', 'note'],
      delimiter: ';',
      bom: false,
      headerLine: 1,
      dataStartByte: 16,
      encoding: 'windows-1252',
    });
    expect(records.map((r) => [r.location, r.fields])).toEqual([
      [
        { file: 'in.csv', line: 2, byteOffset: 16 },
        { name: 'Café', price: '€ 5', note: 'Müller, “quoted”' },
      ],
      [
        { file: 'in.csv', line: 3, byteOffset: 44 },
        { name: 'über', price: '€1,50', note: 'x' },
      ],
    ]);
    // A windows-1252 header is decoded too.
    const header = await planWith(fixture(cp1252('Größe;€\n1;2\n')), { delimiter: ';', encoding: 'windows-1252' });
    expect(header.layout.header).toEqual(['Größe', '€']);
    // The same bytes read as UTF-8 are not text.
    const utf8 = await readWith(file, { delimiter: ';' });
    expect(utf8.records[0]?.fields.price).toBe('\ufffd 5');
    expect(utf8.layout).not.toHaveProperty('encoding');
  });

  it('rejects delimiters that are not one byte and unknown encodings', async () => {
    const file = fixture('a,b\n1,2\n');
    for (const delimiter of ['', ';;', '"', '\n', '€']) {
      await expect(planWith(file, { delimiter })).rejects.toThrow(RangeError);
    }
    await expect(planWith(file, { encoding: 'latin1' as 'utf-8' })).rejects.toThrow(RangeError);
    expect(() =>
      toCsvLayout({ header: [], delimiter: ',', bom: false, headerLine: 1, dataStartByte: 0, encoding: 'x' }),
    ).toThrow(TypeError);
  });
});
