import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ForbiddenKeyError, parseJsonSafe, readJsonArray, readNdjson } from '../../src/formats/json.ts';
import type { JsonArrayOptions, JsonItem, NdjsonOptions } from '../../src/formats/json.ts';
import { inputErrorOf } from '../helpers/input-error.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function fixture(content: string | Buffer): string {
  const file = join(dir, `f${fileNo++}.json`);
  writeFileSync(file, content);
  return file;
}
const fixturePath = (name: string): string => fileURLToPath(new URL(`../fixtures/json/${name}`, import.meta.url));

async function ndjson(file: string, options?: NdjsonOptions): Promise<JsonItem[]> {
  const items: JsonItem[] = [];
  for await (const item of readNdjson(file, 'in.ndjson', options)) items.push(item);
  return items;
}

async function array(file: string, options?: JsonArrayOptions): Promise<JsonItem[]> {
  const items: JsonItem[] = [];
  for await (const item of readJsonArray(file, 'in.json', options)) items.push(item);
  return items;
}

const failure = inputErrorOf;

describe('parseJsonSafe', () => {
  it('parses JSON as JSON.parse does', () => {
    expect(parseJsonSafe('{"a":[1,2.5,-3e2,"x",true,null],"b":{"c":"\\u00e9"}}')).toEqual({
      a: [1, 2.5, -300, 'x', true, null],
      b: { c: 'é' },
    });
    expect(parseJsonSafe('"__proto__"')).toBe('__proto__');
    expect(parseJsonSafe('{"k":"__proto__","constructor":1}')).toEqual({ k: '__proto__', constructor: 1 });
    expect(() => parseJsonSafe('{"a":}')).toThrow(SyntaxError);
  });

  it('refuses __proto__ keys at any depth, also when spelled with escapes', () => {
    for (const text of [
      '{"__proto__":{"polluted":true}}',
      '{"a":[{"b":{"__proto__":1}}]}',
      '{"\\u005f_proto__":{"polluted":true}}',
      '{"__pro\\u0074o__":1}',
    ]) {
      expect(() => parseJsonSafe(text), text).toThrow(ForbiddenKeyError);
    }
    // What the check is for: copying a parsed __proto__ key sets the target's prototype.
    const unsafe = JSON.parse('{"__proto__":{"polluted":true}}') as object;
    expect((Object.assign({}, unsafe) as { polluted?: boolean }).polluted).toBe(true);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('readNdjson', () => {
  it('yields one item per non-blank line with its line, byte offset and position', async () => {
    const file = fixture('\ufeff{"id":1,"amount":12.5}\n\n  \r\n{"id":2,"tags":["a","b"]}\r\n  [1, "x"]  \n"text"\n42');
    expect(await ndjson(file)).toEqual([
      { value: { id: 1, amount: 12.5 }, index: 1, line: 1, byteOffset: 3, position: 'line 1' },
      { value: { id: 2, tags: ['a', 'b'] }, index: 2, line: 4, byteOffset: 31, position: 'line 4' },
      { value: [1, 'x'], index: 3, line: 5, byteOffset: 60, position: 'line 5' },
      { value: 'text', index: 4, line: 6, byteOffset: 71, position: 'line 6' },
      { value: 42, index: 5, line: 7, byteOffset: 78, position: 'line 7' },
    ]);
    const bytes = readFileSync(file);
    expect(bytes.toString('utf8', 31, 31 + 6)).toBe('{"id":');
    expect(bytes.toString('utf8', 60, 61)).toBe('[');
  });

  it('yields a bad line as an error item and goes on', async () => {
    const items = await ndjson(fixture('{"id":1}\n{"id":2,}\n{"__proto__":{"admin":true}}\n{"id":4}\n'));
    expect(items.map((i) => [i.index, i.line, i.byteOffset, i.position, i.value ?? null])).toEqual([
      [1, 1, 0, 'line 1', { id: 1 }],
      [2, 2, 9, 'line 2', null],
      [3, 3, 19, 'line 3', null],
      [4, 4, 48, 'line 4', { id: 4 }],
    ]);
    expect(items[1]!.error).toMatch(/^not valid JSON: /);
    expect(items[2]!.error).toBe('object key "__proto__" is not allowed (it could change the prototype of objects)');
    expect(items[0]!.error).toBeUndefined();
  });

  it('rejects a line over the cap, naming the file, line and byte, before reading the rest', async () => {
    const file = fixture(`{"id":1}\n{"id":2,"note":"${'x'.repeat(2000)}"}\n{"id":3}\n`);
    const err = await failure(ndjson(file, { maxRecordBytes: 1000 }));
    expect(err.message).toBe('in.ndjson: line 2 (byte 9): line is longer than 1000 bytes');
    expect(err.location).toEqual({ file: 'in.ndjson', line: 2, byteOffset: 9 });
    // A runaway line with no line break at all fails once the cap is passed.
    const runaway = fixture(`{"id":1}\n${'y'.repeat(3 << 20)}`);
    expect((await failure(ndjson(runaway, { maxRecordBytes: 1 << 20 }))).message).toBe(
      'in.ndjson: line 2 (byte 9): line is longer than 1048576 bytes',
    );
  });

  it('rejects bytes that are not UTF-8', async () => {
    const file = fixture(Buffer.concat([Buffer.from('{"a":1}\n{"b":"'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    const err = await failure(ndjson(file));
    expect(err.message).toBe('in.ndjson: line 2 (byte 8): not valid UTF-8');
  });

  it('reads lines that span read buffers', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, pad: 'é'.repeat(i % 400) }));
    const file = fixture(lines.join('\n'));
    const items = await ndjson(file);
    expect(items).toHaveLength(3000);
    expect(items.map((i) => (i.value as { i: number }).i)).toEqual(lines.map((_, i) => i));
    const bytes = readFileSync(file);
    for (const item of items) {
      expect(bytes.toString('utf8', item.byteOffset, item.byteOffset + 6)).toBe('{"i":' + String(item.index - 1)[0]);
    }
  });
});

describe('readJsonArray', () => {
  it('yields the elements of a top-level array with their positions', async () => {
    const file = fixture(
      '\ufeff[\n  {"id": 1, "note": "a ] and a } and a \\" quote"},\n  [1, [2, {"x": "["}]],\n  "s,",\n  -1.5e2, true, null\n]\n',
    );
    expect(await array(file)).toEqual([
      { value: { id: 1, note: 'a ] and a } and a " quote' }, index: 1, line: 2, byteOffset: 7, position: '$[0]' },
      { value: [1, [2, { x: '[' }]], index: 2, line: 3, byteOffset: 58, position: '$[1]' },
      { value: 's,', index: 3, line: 4, byteOffset: 82, position: '$[2]' },
      { value: -150, index: 4, line: 5, byteOffset: 90, position: '$[3]' },
      { value: true, index: 5, line: 5, byteOffset: 98, position: '$[4]' },
      { value: null, index: 6, line: 5, byteOffset: 104, position: '$[5]' },
    ]);
    expect(await array(fixture('[]'))).toEqual([]);
  });

  it('reads the one array of a top-level object, or the array at arrayPath', async () => {
    const file = fixturePath('invoices.json');
    const items = await array(file);
    expect(items.map((i) => [i.position, i.line, (i.value as { invoice_id: string }).invoice_id])).toEqual([
      ['$.invoices[0]', 9, 'INV-1001'],
      ['$.invoices[1]', 18, 'INV-1002'],
    ]);
    expect(items[1]!.value).toEqual({
      invoice_id: 'INV-1002',
      supplier: { name: 'Zoë [Ltd]', vat: 'GB123' },
      lines: [{ sku: 'B-2', quantity: 1, unit_price: 0.1 }],
      note: 'quote " and brace }',
    });
    expect(readFileSync(file).toString('utf8', items[0]!.byteOffset, items[0]!.byteOffset + 1)).toBe('{');

    const nested = fixture('{"meta": {"count": 1, "list": [9]}, "data": {"invoices": [{"id": "a"}], "other": [1]}}');
    expect((await array(nested, { arrayPath: 'data.invoices' })).map((i) => [i.position, i.value])).toEqual([
      ['$.data.invoices[0]', { id: 'a' }],
    ]);
    expect((await array(nested, { arrayPath: '$.meta.list' })).map((i) => i.value)).toEqual([9]);
    expect((await array(fixture('{"odd key": [1]}'))).map((i) => i.position)).toEqual(['$["odd key"][0]']);
  });

  it('rejects documents without one clear array of records', async () => {
    const two = await failure(array(fixture('{"invoices": [1], "credits": [2]}')));
    expect(two.message).toBe(
      'in.json: line 1 (byte 29): $.credits is a second array next to $.invoices: pass arrayPath to say which one ' +
        'holds the records',
    );
    expect(two.location).toEqual({ file: 'in.json', line: 1, byteOffset: 29 });
    expect((await failure(array(fixture('{"a": 1, "b": {"c": [1]}}')))).message).toBe(
      'in.json: line 1 (byte 25): no array of records: the top-level value must be an array, or an object with one ' +
        'array-valued property',
    );
    expect((await failure(array(fixture('"just text"')))).message).toBe(
      'in.json: line 1 (byte 0): the top-level value is a string, expected an array or an object',
    );
    expect((await failure(array(fixture('{"data": {"invoices": 5}}'), { arrayPath: 'data.invoices' }))).message).toBe(
      'in.json: line 1 (byte 22): $.data.invoices is a number, not an array',
    );
    expect((await failure(array(fixture('{"data": {}}'), { arrayPath: 'data.invoices' }))).message).toBe(
      'in.json: line 1 (byte 12): no array at $.data.invoices',
    );
    expect((await failure(array(fixture('')))).message).toBe('in.json: line 1 (byte 0): the file is empty');
  });

  it('rejects malformed JSON with its line and byte', async () => {
    const cases: [string, string][] = [
      ['[1, 2,]', "in.json: line 1 (byte 6): unexpected ']' where a value was expected"],
      ['[\n1\n2]', "in.json: line 3 (byte 4): unexpected '2' where ',' or a closing bracket was expected"],
      ['[{"a": 01}]', 'in.json: line 1 (byte 1): $[0] is not valid JSON: '],
      ['[1, {"a": 1]', 'in.json: line 1 (byte 4): $[1] is not valid JSON: '],
      ['[1, 2', "in.json: line 1 (byte 5): the input ends where ',' or a closing bracket was expected"],
      ['[{"a": "b"', 'in.json: line 1 (byte 1): the input ends inside $[0] that starts here'],
      ['{"x": tru, "a": []}', 'in.json: line 1 (byte 6): "tru" is not a JSON value'],
      ['{"x" 1, "a": []}', "in.json: line 1 (byte 5): unexpected '1' where ':' was expected"],
      ['{"a": []} []', "in.json: line 1 (byte 10): unexpected '[' where the end of the input after the top-level"],
      ['{"a": [], }', "in.json: line 1 (byte 10): unexpected '}' where a string key was expected"],
      ['{"a\nb": [1]}', 'in.json: line 1 (byte 3): control character inside a string'],
      ['[1}', "in.json: line 1 (byte 2): unexpected '}' where ',' or a closing bracket was expected"],
    ];
    for (const [text, message] of cases) {
      const err = await failure(array(fixture(text)));
      expect(err.message, text).toContain(message);
      expect(err.location.file).toBe('in.json');
      expect(typeof err.location.line).toBe('number');
      expect(typeof err.location.byteOffset).toBe('number');
    }
  });

  it('rejects an element over the cap, naming its position', async () => {
    const file = fixture(`[{"id": 1},\n {"id": 2, "blob": "${'x'.repeat(5000)}"}, {"id": 3}]`);
    const err = await failure(array(file, { maxRecordBytes: 4096 }));
    expect(err.message).toBe('in.json: line 2 (byte 13): $[1] is longer than 4096 bytes');
    expect(err.location).toEqual({ file: 'in.json', line: 2, byteOffset: 13 });
    expect(await array(file, { maxRecordBytes: 8192 })).toHaveLength(3);
  });

  it('yields an element with a __proto__ key as an error item and goes on', async () => {
    const items = await array(fixture('[{"a": 1}, {"b": {"__proto__": {"polluted": true}}}, {"c": 3}]'));
    expect(items).toEqual([
      { value: { a: 1 }, index: 1, line: 1, byteOffset: 1, position: '$[0]' },
      {
        error: 'object key "__proto__" is not allowed (it could change the prototype of objects)',
        index: 2,
        line: 1,
        byteOffset: 11,
        position: '$[1]',
      },
      { value: { c: 3 }, index: 3, line: 1, byteOffset: 53, position: '$[2]' },
    ]);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it('finds every element across read buffers, with exact positions', async () => {
    const elements = Array.from({ length: 4000 }, (_, i) => ({
      i,
      text: `"quoted" \\ ] } [ { ${'é'.repeat(i % 300)}`,
      nested: i % 7 === 0 ? [[i], { deep: [i, { x: 'y' }] }] : [],
    }));
    const text = `{"invoices": [\n${elements.map((e) => JSON.stringify(e, null, i(e.i))).join(',\n')}\n]}`;
    function i(n: number): number {
      return n % 3;
    }
    const file = fixture(text);
    expect(text.length).toBeGreaterThan(3 * (256 << 10));
    const items = await array(file);
    expect(items.map((item) => item.value)).toEqual(elements);
    const bytes = readFileSync(file);
    let line = 1;
    let scanned = 0;
    for (const item of items) {
      expect(bytes[item.byteOffset]).toBe(0x7b);
      for (; scanned < item.byteOffset; scanned++) if (bytes[scanned] === 0x0a) line++;
      expect(item.line).toBe(line);
    }
  });
});
