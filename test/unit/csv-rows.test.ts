import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { groupContiguous, readCsvRecords } from '../../src/formats/csv-rows.ts';
import type { CsvRecordsOptions, CsvRowRecord } from '../../src/formats/csv-rows.ts';
import { InputError } from '../../src/profiles/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-csv-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function fixture(content: string | Buffer): string {
  const file = join(dir, `f${fileNo++}.csv`);
  writeFileSync(file, content);
  return file;
}

async function read(file: string, options?: CsvRecordsOptions): Promise<CsvRowRecord[]> {
  const records: CsvRowRecord[] = [];
  for await (const record of readCsvRecords(file, 'in.csv', options)) records.push(record);
  return records;
}

async function failure(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error('did not fail');
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

describe('readCsvRecords', () => {
  it('yields records with trimmed header names, first lines and byte offsets', async () => {
    const file = fixture('\ufeff id , name ,note\r\n\r\nA-1,Ana,"two\nlines, ""quoted"""\r\n\n\nA-2,Bo,\r\nA-3,"Cé",x');
    expect(await read(file)).toEqual([
      {
        line: 3,
        byteOffset: 23,
        fields: { id: 'A-1', name: 'Ana', note: 'two\nlines, "quoted"' },
        position: 'line 3',
      },
      { line: 7, byteOffset: 58, fields: { id: 'A-2', name: 'Bo', note: '' }, position: 'line 7' },
      { line: 8, byteOffset: 67, fields: { id: 'A-3', name: 'Cé', note: 'x' }, position: 'line 8' },
    ]);
    const bytes = readFileSync(file);
    expect(bytes.toString('utf8', 23, 26)).toBe('A-1');
    expect(bytes.toString('utf8', 58, 61)).toBe('A-2');
    expect(bytes.toString('utf8', 67, 70)).toBe('A-3');
  });

  it('counts line feeds only: a carriage return inside quotes does not start a line', async () => {
    const records = await read(fixture('a,b\n1,"x\ry"\n2,"p\nq"\n3,z\n'));
    expect(records.map((r) => [r.line, r.byteOffset, r.fields.b])).toEqual([
      [2, 4, 'x\ry'],
      [3, 12, 'p\nq'],
      [5, 20, 'z'],
    ]);
  });

  it('reads semicolon and tab delimiters', async () => {
    expect((await read(fixture('a;b\n1;"x;y"\n'), { delimiter: ';' }))[0]!.fields).toEqual({ a: '1', b: 'x;y' });
    expect((await read(fixture('a\tb\n1\t"x\ty"\n2\t\n'), { delimiter: '\t' })).map((r) => r.fields)).toEqual([
      { a: '1', b: 'x\ty' },
      { a: '2', b: '' },
    ]);
    await expect(read(fixture('a\n'), { delimiter: '"' })).rejects.toThrow(RangeError);
    await expect(read(fixture('a\n'), { delimiter: ';;' })).rejects.toThrow(RangeError);
  });

  it('decodes windows-1252, where 0x80-0x9F are not latin1', async () => {
    // "Größe;Preis\nSchuhe;€ 20\n" and a line with ü, smart quotes (0x93, 0x94) and an em dash (0x97).
    const bytes = Buffer.concat([
      Buffer.from([0x47, 0x72, 0xf6, 0xdf, 0x65]),
      Buffer.from(';Preis\nCaf'),
      Buffer.from([0xe9]),
      Buffer.from(';'),
      Buffer.from([0x80]),
      Buffer.from(' 20\n"M'),
      Buffer.from([0xfc, 0x6c, 0x6c, 0x65, 0x72, 0x20, 0x93, 0x78, 0x94, 0x20, 0x97]),
      Buffer.from('";3\n'),
    ]);
    const records = await read(fixture(bytes), { delimiter: ';', encoding: 'windows-1252' });
    expect(records).toEqual([
      { line: 2, byteOffset: 12, fields: { Größe: 'Café', Preis: '€ 20' }, position: 'line 2' },
      { line: 3, byteOffset: 22, fields: { Größe: 'Müller “x” —', Preis: '3' }, position: 'line 3' },
    ]);
    // Read as UTF-8, the same bytes are not text.
    expect((await read(fixture(bytes), { delimiter: ';' }))[0]!.fields['Preis']).toBe('\ufffd 20');
  });

  it('rejects bad headers and records of the wrong length, naming the file and line', async () => {
    const empty = await failure(read(fixture('\nid,,v\n1,2,3\n')));
    expect(empty.message).toBe('in.csv: line 2: header column 2 has an empty name');
    expect(empty.location).toEqual({ file: 'in.csv', line: 2, byteOffset: 1 });
    expect((await failure(read(fixture('id, v ,v\n')))).message).toBe(
      'in.csv: line 1: header column 3 repeats the name "v"',
    );
    expect((await failure(read(fixture('id,__proto__\n1,2\n')))).message).toBe(
      'in.csv: line 1: header column 2 has a reserved name',
    );

    const short = await failure(read(fixture('a,b\n1,2\n\n"3\n",\n4\n')));
    expect(short.message).toBe('in.csv: line 6: record has 1 cells but the header (line 1) has 2');
    expect(short.location).toEqual({ file: 'in.csv', line: 6, byteOffset: 15 });
    const long = await failure(read(fixture('a,b\n1,2,3\n')));
    expect(long.message).toBe('in.csv: line 2: record has 3 cells but the header (line 1) has 2');
  });

  it('rejects a record over maxRecordBytes and an unclosed quote, at the line where the record starts', async () => {
    const big = fixture(`a,b\n1,2\n3,"${'x'.repeat(5000)}"\n`);
    const err = await failure(read(big, { maxRecordBytes: 1000 }));
    expect(err.message).toBe('in.csv: line 3: record is longer than 1000 bytes (is a quoted field not closed?)');
    expect(err.location).toEqual({ file: 'in.csv', line: 3, byteOffset: 8 });
    expect(await read(big)).toHaveLength(2);

    const open = await failure(read(fixture('a,b\n1,2\n\n3,"open\n4,5\n')));
    expect(open.message).toBe('in.csv: line 4: quoted field is not closed before the end of the file');
    expect(open.location).toEqual({ file: 'in.csv', line: 4, byteOffset: 9 });
  });

  it('gives exact lines and offsets across read buffers, and the same cells as csv-parse', async () => {
    const rows = Array.from({ length: 12_000 }, (_, i) => {
      const note = i % 5 === 0 ? `"multi\nline ${i}, ""q"""` : i % 7 === 0 ? `"é ${'x'.repeat(i % 90)}"` : `n${i}`;
      return `${i},${note}${i % 11 === 0 ? '\r\n' : '\n'}${i % 13 === 0 ? '\n' : ''}`;
    });
    const file = fixture(`id,note\n${rows.join('')}`);
    const bytes = readFileSync(file);
    expect(bytes.length).toBeGreaterThan(3 * 65536);
    const records = await read(file);
    const expected = parse(bytes, {
      columns: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n'],
    }) as Array<Record<string, string>>;
    expect(records.map((r) => r.fields)).toEqual(expected);
    let line = 1;
    let scanned = 0;
    for (const r of records) {
      const offset = r.byteOffset!;
      expect(bytes.toString('utf8', offset, offset + r.fields.id!.length + 1)).toBe(`${r.fields.id},`);
      for (; scanned < offset; scanned++) if (bytes[scanned] === 0x0a) line++;
      expect(r.line).toBe(line);
      expect(r.position).toBe(`line ${line}`);
    }
  });

  it('stops early without error', async () => {
    const file = fixture(`id\n${Array.from({ length: 50_000 }, (_, i) => `${i}\n`).join('')}`);
    const seen: string[] = [];
    for await (const record of readCsvRecords(file, 'in.csv')) {
      seen.push(record.fields.id!);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['0', '1']);
  });
});

describe('groupContiguous', () => {
  interface Row {
    key: string;
    line: number;
  }
  const row = (key: string, line: number): Row => ({ key, line });
  const keyOf = (r: Row): string => r.key;
  const describeRow = (r: Row): string => `line ${r.line}`;

  it('yields runs of consecutive items with the same key', async () => {
    const items = [row('INV-1', 2), row('INV-1', 3), row('INV-2', 4), row('INV-3', 5), row('INV-3', 6)];
    const groups: Row[][] = [];
    for await (const group of groupContiguous(from(items), keyOf, describeRow)) groups.push(group);
    expect(groups.map((g) => g.map((r) => r.line))).toEqual([[2, 3], [4], [5, 6]]);
    const none: unknown[] = [];
    for await (const group of groupContiguous(from([]), keyOf, describeRow)) none.push(group);
    expect(none).toEqual([]);
  });

  it('rejects a key that comes back after another key', async () => {
    const items = [row('INV-7', 5), row('INV-7', 6), row('INV-9', 7), row('INV-7', 12), row('INV-8', 13)];
    const groups: unknown[] = [];
    const err = await failure(
      (async () => {
        for await (const group of groupContiguous(from(items), keyOf, describeRow, {
          file: 'in.csv',
          noun: 'invoice',
          location: (r) => ({ file: 'in.csv', line: r.line }),
        })) {
          groups.push(group);
        }
      })(),
    );
    expect(err.message).toBe(
      'in.csv: rows of invoice INV-7 are not contiguous: first at line 5, again at line 12 after INV-9',
    );
    expect(err.location).toEqual({ file: 'in.csv', line: 12 });
    // Runs are handed out once the next key shows they are complete: INV-7's was, INV-9's was cut short.
    expect(groups).toHaveLength(1);

    const plain = await failure(
      (async () => {
        for await (const _ of groupContiguous(from([row('a', 1), row('b', 2), row('a', 3)]), keyOf, describeRow)) {
          // drain
        }
      })(),
    );
    expect(plain.message).toBe('rows of key a are not contiguous: first at line 1, again at line 3 after b');
    expect(plain.location).toEqual({ file: '', position: 'line 3' });
  });

  it('groups the records of a CSV file', async () => {
    const file = fixture('invoice,line,sku\nI-1,1,A\nI-1,2,B\nI-2,1,C\n');
    const groups: string[][] = [];
    for await (const group of groupContiguous(
      readCsvRecords(file, 'in.csv'),
      (r) => r.fields.invoice!,
      (r) => r.position,
    )) {
      groups.push(group.map((r) => `${r.fields.invoice}/${r.fields.line}@${r.line}`));
    }
    expect(groups).toEqual([['I-1/1@2', 'I-1/2@3'], ['I-2/1@4']]);
  });
});
