import { createWriteStream, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readX12 } from '../../src/formats/x12.ts';
import type { X12ReadOptions, X12SetError, X12TransactionSet } from '../../src/formats/x12.ts';
import {
  impliedDecimal,
  isoDate,
  map210,
  map810,
  map850,
  map856,
  mapTransactionSet,
} from '../../src/formats/x12-sets.ts';
import { InputError } from '../../src/profiles/types.ts';

const fixtures = fileURLToPath(new URL('../fixtures/x12/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);

const dir = mkdtempSync(join(tmpdir(), 'sluice-x12-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function temp(content: string | Buffer): string {
  const file = join(dir, `f${fileNo++}.edi`);
  writeFileSync(file, content);
  return file;
}

type Item = X12TransactionSet | X12SetError;

async function readAll(file: string, options?: X12ReadOptions, name = 'in.edi'): Promise<Item[]> {
  const items: Item[] = [];
  for await (const item of readX12(file, name, options)) items.push(item);
  return items;
}

async function sets(file: string, options?: X12ReadOptions): Promise<X12TransactionSet[]> {
  const items = await readAll(file, options);
  const errors = items.filter((i) => i.kind === 'error');
  expect(errors).toEqual([]);
  return items as X12TransactionSet[];
}

/** Reads until the reader throws; returns the error and what was yielded before it. */
async function failure(
  file: string,
  options?: X12ReadOptions,
  name = 'in.edi',
): Promise<{ error: InputError; items: Item[] }> {
  const items: Item[] = [];
  try {
    for await (const item of readX12(file, name, options)) items.push(item);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return { error: err as InputError, items };
  }
  throw new Error('reading did not fail');
}

interface IsaOptions {
  element?: string;
  component?: string;
  terminator?: string;
  /** ISA11 as written; defaults to `^` from 00402 and `U` before. */
  isa11?: string;
  version?: string;
  control?: string;
}

/** A 106-character ISA with the given delimiters. */
function isa(o: IsaOptions = {}): string {
  const e = o.element ?? '*';
  const version = o.version ?? '00401';
  const fields = [
    '00',
    ' '.repeat(10),
    '00',
    ' '.repeat(10),
    'ZZ',
    'SENDER'.padEnd(15),
    'ZZ',
    'RECEIVER'.padEnd(15),
    '240101',
    '1200',
    o.isa11 ?? (version >= '00402' ? '^' : 'U'),
    version,
    o.control ?? '000000001',
    '0',
    'P',
    o.component ?? '>',
  ];
  const text = `ISA${e}${fields.join(e)}${o.terminator ?? '~'}`;
  expect(text).toHaveLength(106);
  return text;
}

interface SetSpec {
  id?: string;
  control: string;
  /** Segments between ST and SE, written with `*` as the element separator. */
  body: string[];
}

interface BuildOptions extends IsaOptions {
  /** Written after each segment terminator. Default LF. */
  after?: string;
  groupControl?: string;
  functionalId?: string;
}

/** One interchange with one group holding the given sets; counts and control numbers are right. */
function build(setSpecs: SetSpec[], o: BuildOptions = {}): string {
  const e = o.element ?? '*';
  const t = o.terminator ?? '~';
  const after = o.after ?? '\n';
  const seg = (text: string): string => text.replaceAll('*', e) + t + after;
  const group = o.groupControl ?? '1';
  let out = isa(o) + after;
  out += seg(
    `GS*${o.functionalId ?? 'PO'}*SENDER*RECEIVER*20240101*1200*${group}*X*${o.version === '00501' ? '005010' : '004010'}`,
  );
  for (const s of setSpecs) {
    out += seg(`ST*${s.id ?? '850'}*${s.control}`);
    for (const b of s.body) out += seg(b);
    out += seg(`SE*${s.body.length + 2}*${s.control}`);
  }
  out += seg(`GE*${setSpecs.length}*${group}`);
  out += seg(`IEA*1*${o.control ?? '000000001'}`);
  return out;
}

const po = (n: number): SetSpec => ({
  control: String(n).padStart(4, '0'),
  body: [`BEG*00*SA*PO-${n}**20240101`, `PO1*1*${n}*EA*1.25**VP*P${n}`, 'CTT*1'],
});

const envelope4010 = {
  interchangeControl: '000000101',
  senderId: 'ODFL',
  receiverId: 'ACMESHIPPER',
  version: '00401',
  groupControl: '101',
  functionalId: 'IM',
  groupVersion: '004010',
};

describe('readX12: delimiters and envelopes', () => {
  it('reads a 4010 interchange with * > ~ and a line break after each segment', async () => {
    const [first, second, ...rest] = await sets(fixture('210-4010.edi'));
    expect(rest).toEqual([]);
    expect(first).toMatchObject({
      kind: 'set',
      setId: '210',
      control: '0001',
      envelope: envelope4010,
      byteOffset: 158,
      line: 3,
      where: 'interchange 000000101 / group 101 / set 0001',
      componentSeparator: '>',
    });
    expect(first).not.toHaveProperty('repetitionSeparator');
    expect(first!.segments).toHaveLength(23);
    expect(first!.segments[0]).toEqual({ id: 'ST', elements: ['210', '0001'], position: 3 });
    expect(first!.segments[1]).toEqual({
      id: 'B3',
      elements: ['', 'INV-20240315-01', 'SHP778812', 'PP', '', '20240315', '128763', '', '20240314', '035', 'ODFL'],
      position: 4,
    });
    expect(first!.segments[22]).toEqual({ id: 'SE', elements: ['23', '0001'], position: 25 });
    expect(second).toMatchObject({ control: '0002', byteOffset: 713, line: 26, envelope: envelope4010 });
    expect(second!.segments.map((s) => s.position)).toEqual([26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38]);
  });

  it('reads a 5010 interchange with | ^ > ~ and no line breaks, three groups in one interchange', async () => {
    const items = await sets(fixture('5010-810-850-856.edi'));
    expect(
      items.map((s) => [
        s.setId,
        s.control,
        s.where,
        s.byteOffset,
        s.line,
        s.repetitionSeparator,
        s.componentSeparator,
      ]),
    ).toEqual([
      ['810', '0001', 'interchange 000000202 / group 2001 / set 0001', 162, 1, '^', '>'],
      ['850', '0101', 'interchange 000000202 / group 2002 / set 0101', 609, 1, '^', '>'],
      ['856', '0201', 'interchange 000000202 / group 2003 / set 0201', 923, 1, '^', '>'],
    ]);
    expect(items[2]!.envelope).toEqual({
      interchangeControl: '000000202',
      senderId: 'GLOBEXSUPPLY',
      receiverId: 'MEGAMART',
      version: '00501',
      groupControl: '2003',
      functionalId: 'SH',
      groupVersion: '005010',
    });
    expect(items[0]!.segments[10]).toEqual({
      id: 'IT1',
      elements: ['1', '24', 'EA', '16.5', '', 'VP', 'GLX-100', 'UP', '012345678905'],
      position: 13,
    });
  });

  it('re-detects the delimiters at every ISA: two interchanges with different delimiters in one file', async () => {
    const [a, b, ...rest] = await sets(fixture('multi-interchange.edi'));
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ setId: '210', byteOffset: 158, line: 3, componentSeparator: ':' });
    expect(a).not.toHaveProperty('repetitionSeparator');
    // In the first interchange + and ' are data; in the second ~ is data and * separates repetitions.
    expect(a!.segments[3]).toEqual({ id: 'L5', elements: ['1', "BOLTS + NUTS 'M8'"], position: 6 });
    expect(b).toMatchObject({
      setId: '850',
      where: 'interchange 000000302 / group 7 / set 0001',
      byteOffset: 501,
      line: 14,
      componentSeparator: '>',
      repetitionSeparator: '*',
    });
    expect(b!.envelope.version).toBe('00501');
    expect(b!.segments[2]).toEqual({
      id: 'PO1',
      elements: ['1', '2', 'EA', '9.99', '', 'VP', 'SIZE~L*M'],
      position: 5,
    });
  });

  it('reads the same segments with no line breaks, CRLF, LF, and a line feed as the terminator', async () => {
    const specs = [po(1), po(2)];
    const variants = [
      build(specs, { after: '' }),
      build(specs, { after: '\r\n' }),
      build(specs, { after: '\n' }),
      build(specs, { terminator: '\n', after: '' }),
      build(specs, { element: '|', component: ':', terminator: '!', after: '\r\n' }),
    ];
    const read = await Promise.all(variants.map(async (text) => sets(temp(text))));
    const shape = (items: X12TransactionSet[]) => items.map((s) => s.segments);
    for (const items of read) expect(shape(items)).toEqual(shape(read[0]!));
    expect(read[0]![1]!.segments[2]).toEqual({
      id: 'PO1',
      elements: ['1', '2', 'EA', '1.25', '', 'VP', 'P2'],
      position: 10,
    });
    // Where each ST is, found in the text itself.
    const expected = variants.map((text, i) =>
      ['0001', '0002'].map((control) => {
        const at = text.indexOf(`ST${i === 4 ? '|' : '*'}850${i === 4 ? '|' : '*'}${control}`);
        return [text.slice(0, at).split('\n').length, at];
      }),
    );
    expect(read.map((items) => items.map((s) => [s.line, s.byteOffset]))).toEqual(expected);
    expect(expected.map((offsets) => offsets[1])).toEqual([
      [1, 229],
      [8, 243],
      [8, 236],
      [8, 229],
      [8, 243],
    ]);
    expect(read[4]![0]!.componentSeparator).toBe(':');
  });

  it('takes ISA11 as the repetition separator only from version 00402', async () => {
    const [v4010] = await sets(temp(build([po(1)], { version: '00401', isa11: 'U' })));
    const [v4020] = await sets(temp(build([po(1)], { version: '00402', isa11: '{' })));
    const [v5010] = await sets(temp(build([po(1)], { version: '00501', isa11: '^' })));
    expect(v4010).not.toHaveProperty('repetitionSeparator');
    expect(v4020!.repetitionSeparator).toBe('{');
    expect(v5010!.repetitionSeparator).toBe('^');
    expect(v5010!.envelope.groupVersion).toBe('005010');
  });

  it('skips a UTF-8 byte order mark, whitespace between interchanges and trailing whitespace', async () => {
    const one = build([po(1)], { control: '000000001' });
    const two = build([po(2)], { control: '000000002', element: '^', after: '\r\n' });
    const text = `\ufeff${one}\n  \t\n${two} \n\n`;
    const items = await sets(temp(text));
    // The BOM is 3 bytes but one UTF-16 unit: byte offsets are string offsets + 2.
    expect(items.map((s) => [s.where, s.byteOffset, s.line])).toEqual([
      ['interchange 000000001 / group 1 / set 0001', text.indexOf('ST*850*0001') + 2, 3],
      ['interchange 000000002 / group 1 / set 0002', text.indexOf('ST^850^0002') + 2, 14],
    ]);
    expect(items[1]!.byteOffset).toBe(3 + one.length + 5 + 157);
  });

  it('gives the same result whatever the read block size (boundaries inside segments and the ISA)', async () => {
    for (const name of readdirSync(fixtures)) {
      const outcome = async (blockBytes?: number) => {
        try {
          return { items: await readAll(fixture(name), blockBytes === undefined ? {} : { blockBytes }) };
        } catch (err) {
          return { error: (err as Error).message };
        }
      };
      const expected = await outcome();
      for (const blockBytes of [1, 3, 7, 105, 107])
        expect(await outcome(blockBytes), `${name} / ${blockBytes}`).toEqual(expected);
    }
  });
});

describe('readX12: problems confined to one transaction set', () => {
  it('quarantines bad sets and reads on: SE01 count, SE02 control, a segment before ST, a missing SE', async () => {
    const items = await readAll(fixture('set-errors.edi'), {}, 'set-errors.edi');
    const where = 'interchange 000000401 / group 40';
    const envelope = {
      interchangeControl: '000000401',
      senderId: 'BUYER',
      receiverId: 'SELLER',
      version: '00401',
      groupControl: '40',
      functionalId: 'PO',
      groupVersion: '004010',
    };
    expect(items.map((i) => i.kind)).toEqual(['set', 'error', 'error', 'error', 'error', 'set']);
    expect(items[0]).toMatchObject({ kind: 'set', control: '0001', byteOffset: 153, line: 3 });
    expect(items[1]).toEqual({
      kind: 'error',
      message: `set-errors.edi: ${where} / set 0002: SE01 says 12 segments, counted 5 (segment 12, byte 290)`,
      setId: '850',
      control: '0002',
      envelope,
      byteOffset: 227,
      line: 8,
      where: `${where} / set 0002`,
      at: { segmentId: 'SE', position: 12, byteOffset: 290, line: 12 },
    });
    expect(items[2]).toMatchObject({
      message: `set-errors.edi: ${where} / set 0003: SE02 control number "0033" does not match ST02 "0003" (segment 17, byte 365)`,
      setId: '850',
      control: '0003',
      byteOffset: 302,
      line: 13,
    });
    expect(items[3]).toEqual({
      kind: 'error',
      message: `set-errors.edi: ${where} / no ST: REF is not inside a transaction set: no ST before it (segment 18, byte 376)`,
      envelope,
      byteOffset: 376,
      line: 18,
      where: `${where} / no ST`,
      at: { segmentId: 'REF', position: 18, byteOffset: 376, line: 18 },
    });
    expect(items[4]).toMatchObject({
      message: `set-errors.edi: ${where} / set 0004: transaction set has no SE before the next ST (segment 23, byte 451)`,
      setId: '850',
      control: '0004',
      byteOffset: 388,
      line: 19,
      at: { segmentId: 'ST', position: 23, byteOffset: 451, line: 23 },
    });
    expect(items[5]).toMatchObject({ kind: 'set', control: '0005', byteOffset: 451, line: 23 });
    expect((items[5] as X12TransactionSet).segments.map((s) => s.id)).toEqual(['ST', 'BEG', 'PO1', 'CTT', 'SE']);
  });

  it('counts a run with no ST that ends in SE as a set for GE01, and reports it with SE02', async () => {
    const text = build([po(1), po(2)]).replace('ST*850*0002~\n', '');
    const items = await readAll(temp(text));
    expect(items.map((i) => i.kind)).toEqual(['set', 'error']);
    expect(items[1]).toMatchObject({
      message:
        'in.edi: interchange 000000001 / group 1 / no ST: BEG is not inside a transaction set: no ST before it (segment 8, byte 236)',
      control: '0002',
    });
    expect(items[1]).not.toHaveProperty('setId');
    expect(text.indexOf('BEG*00*SA*PO-2')).toBe(236);
  });

  it('reports a set cut short by GE, then checks GE01 with it counted', async () => {
    const text = build([po(1), po(2)]).replace('SE*5*0002~\n', '');
    const items = await readAll(temp(text));
    expect(items.map((i) => i.kind)).toEqual(['set', 'error']);
    expect(items[1]!).toMatchObject({
      message: `in.edi: interchange 000000001 / group 1 / set 0002: transaction set has no SE before GE (segment 12, byte ${text.indexOf('GE*2*1')})`,
      at: { segmentId: 'GE', position: 12 },
    });
  });

  it('quarantines a set with more than maxSegmentsPerSet segments, keeping none of them', async () => {
    const big: SetSpec = { control: '0002', body: Array.from({ length: 8 }, (_, i) => `REF*ZZ*${i}`) };
    const text = build([po(1), big, po(3)]);
    const items = await readAll(temp(text), { maxSegmentsPerSet: 6 });
    expect(items.map((i) => i.kind)).toEqual(['set', 'error', 'set']);
    expect(items[1]).toMatchObject({
      message: `in.edi: interchange 000000001 / group 1 / set 0002: transaction set has more than 6 segments (segment 14, byte ${text.indexOf('REF*ZZ*5')})`,
      control: '0002',
    });
    // The same file reads cleanly with the default cap.
    expect((await sets(temp(text))).map((s) => s.segments.length)).toEqual([5, 10, 5]);
  });

  it('quarantines a set holding an empty segment or a malformed segment id', async () => {
    const text = build([po(1), { control: '0002', body: ['BEG*00*SA*X**20240101', '', 'n1*ST*X'] }, po(3)]);
    const items = await readAll(temp(text));
    expect(items.map((i) => i.kind)).toEqual(['set', 'error', 'set']);
    expect((items[1] as X12SetError).message).toBe(
      `in.edi: interchange 000000001 / group 1 / set 0002: an empty segment is not a valid segment id (segment 10, byte ${text.indexOf('~\nn1')})`,
    );
  });
});

describe('readX12: problems with the envelope or the file', () => {
  it('GE01 set count', async () => {
    const { error, items } = await failure(fixture('bad-ge-count.edi'), {}, 'bad-ge-count.edi');
    expect(items.map((i) => i.kind)).toEqual(['set']);
    expect(error.message).toBe(
      'bad-ge-count.edi: interchange 000000501 / group 50: GE01 says 2 transaction sets, counted 1 (segment 8, byte 227)',
    );
    expect(error.location).toEqual({
      file: 'bad-ge-count.edi',
      line: 8,
      byteOffset: 227,
      position: 'interchange 000000501 / group 50 (GE at segment 8)',
    });
  });

  it('GE02 control number', async () => {
    const text = build([po(1)], { groupControl: '7' }).replace('GE*1*7~', 'GE*1*8~');
    const { error } = await failure(temp(text));
    expect(error.message).toBe(
      `in.edi: interchange 000000001 / group 7: GE02 control number "8" does not match GS06 "7" (segment 8, byte ${text.indexOf('GE*')})`,
    );
  });

  it('accepts GE02 and IEA02 equal to GS06 and ISA13 as numbers', async () => {
    const text = build([po(1)], { groupControl: '7' })
      .replace('GE*1*7~', 'GE*1*0007~')
      .replace('IEA*1*000000001', 'IEA*1*1');
    expect(await sets(temp(text))).toHaveLength(1);
  });

  it('IEA01 group count and IEA02 control number', async () => {
    const count = build([po(1)]).replace('IEA*1*', 'IEA*2*');
    expect((await failure(temp(count))).error.message).toBe(
      `in.edi: interchange 000000001: IEA01 says 2 functional groups, counted 1 (segment 9, byte ${count.indexOf('IEA')})`,
    );
    const { error } = await failure(fixture('bad-iea-control.edi'), {}, 'bad-iea-control.edi');
    expect(error.message).toBe(
      'bad-iea-control.edi: interchange 000000501: IEA02 control number "000000502" does not match ISA13 "000000501" (segment 9, byte 236)',
    );
    expect(error.location).toMatchObject({ line: 9, byteOffset: 236 });
  });

  it('an ISA shorter than 106 characters', async () => {
    const { error } = await failure(fixture('short-isa.edi'), {}, 'short-isa.edi');
    expect(error.message).toBe(
      'short-isa.edi: start of file: ISA must be 106 characters with fixed-width elements, but ISA06 is 14 characters, expected 15 (segment 1, byte 0)',
    );
    expect(error.location).toEqual({
      file: 'short-isa.edi',
      line: 1,
      byteOffset: 0,
      position: 'start of file (ISA at segment 1)',
    });
    const truncated = await failure(temp(isa().slice(0, 80)));
    expect(truncated.error.message).toBe(
      'in.edi: start of file: file ends inside the ISA segment, after 80 of its 106 characters (segment 1, byte 0)',
    );
  });

  it('clashing or unusable delimiters', async () => {
    const { error } = await failure(fixture('clashing-delimiters.edi'), {}, 'clashing-delimiters.edi');
    expect(error.message).toBe(
      'clashing-delimiters.edi: start of file: ISA component separator "*" is the same as the element separator (segment 1, byte 0)',
    );
    const cases: Array<[IsaOptions, string]> = [
      [{ terminator: '*' }, 'ISA segment terminator "*" is the same as the element separator'],
      [{ component: '~' }, 'ISA segment terminator "~" is the same as the component separator'],
      [{ component: 'A' }, 'ISA component separator (ISA16) "A" is a letter, digit or space'],
      [{ terminator: '7' }, 'ISA segment terminator (ISA position 105) "7" is a letter, digit or space'],
      [
        { version: '00501', isa11: 'U' },
        'ISA repetition separator (ISA11, version 00501) "U" is a letter, digit or space',
      ],
      [{ version: '00501', isa11: '>' }, 'ISA repetition separator ">" is the same as the component separator'],
      [{ version: '0050A' }, 'ISA12 version "0050A" is not 5 digits'],
    ];
    for (const [options, problem] of cases) {
      const { error: e } = await failure(temp(`${isa(options)}\n`));
      expect(e.message).toBe(`in.edi: start of file: ${problem} (segment 1, byte 0)`);
    }
    const letter = await failure(temp(`${isa().replace('ISA*', 'ISAX')}\n`));
    expect(letter.error.message).toMatch(
      /^in.edi: start of file: the file must start with an ISA segment, found "ISAX00/,
    );
  });

  it('a file that does not start with ISA, or is empty', async () => {
    const { error } = await failure(fixture('no-isa.edi'), {}, 'no-isa.edi');
    expect(error.message).toBe(
      'no-isa.edi: start of file: the file must start with an ISA segment, found "GS*PO*BUYER*SELLER*20240320*12..." (byte 0)',
    );
    expect((await failure(temp(' \r\n'))).error.message).toBe(
      'in.edi: holds no ISA segment (the file is empty or blank)',
    );
  });

  it('GS after IEA without an ISA, and text after the last IEA', async () => {
    const one = build([po(1)]);
    const gs = await failure(temp(`${one}GS*PO*A*B*20240101*1200*2*X*004010~\n`));
    expect(gs.items).toHaveLength(1);
    expect(gs.error.message).toBe(
      `in.edi: after interchange 000000001: expected ISA or the end of the file after IEA, found "GS*PO*A*B*20240101*1200*2*X*00..." (byte ${one.length})`,
    );
    const { error } = await failure(fixture('trailing-text.edi'), {}, 'trailing-text.edi');
    expect(error.message).toBe(
      'trailing-text.edi: after interchange 000000501: expected ISA or the end of the file after IEA, found "Sent by EDI gateway v2\\n" (byte 257)',
    );
    expect(error.location).toEqual({
      file: 'trailing-text.edi',
      line: 12,
      byteOffset: 257,
      position: 'after interchange 000000501',
    });
  });

  it('missing GE or IEA at the end of the file', async () => {
    const { error } = await failure(fixture('missing-iea.edi'), {}, 'missing-iea.edi');
    expect(error.message).toBe(
      'missing-iea.edi: interchange 000000501: file ends without IEA (after segment 8, byte 236)',
    );
    expect(error.location).toEqual({
      file: 'missing-iea.edi',
      line: 9,
      byteOffset: 236,
      position: 'interchange 000000501 (end of file after segment 8)',
    });
    const text = build([po(1), po(2)]);
    const cut = text.slice(0, text.indexOf('SE*5*0002'));
    expect((await failure(temp(cut))).error.message).toBe(
      `in.edi: interchange 000000001 / group 1 / set 0002: file ends without SE, GE, IEA (after segment 11, byte ${cut.length})`,
    );
  });

  it('a segment without its terminator at the end of the file', async () => {
    const text = build([po(1)]).replace(/~\n$/, '');
    expect((await failure(temp(text))).error.message).toBe(
      `in.edi: interchange 000000001: file ends inside a segment with no terminator "~": "IEA*1*000000001" (segment 9, byte ${text.indexOf('IEA')})`,
    );
  });

  it('envelope segments out of order', async () => {
    const text = build([po(1)]);
    const cases: Array<[string, string, string]> = [
      [
        'GE*1*1~',
        `ISA${isa().slice(3)}`,
        'interchange 000000001 / group 1: another ISA starts before IEA closes this interchange (segment 8',
      ],
      [
        'GE*1*1~',
        'GS*PO*A*B*20240101*1200*2*X*004010~',
        'interchange 000000001 / group 1: GS starts before GE closes group 1 (segment 8',
      ],
      [
        'GE*1*1~\nIEA*1*000000001~',
        'GE*1*1~\nN1*ST*X~\nIEA*1*000000001~',
        'interchange 000000001: N1 is outside a functional group: no GS before it (segment 9',
      ],
      ['GE*1*1~\n', '', 'interchange 000000001 / group 1: IEA comes before GE closes group 1 (segment 8'],
      [
        'GS*PO',
        'ST*850*0009~\nGS*PO',
        'interchange 000000001: ST is outside a functional group: no GS before it (segment 2',
      ],
      ['IEA*1', 'GE*1*1~\nIEA*1', 'interchange 000000001: GE without a GS (segment 9'],
    ];
    for (const [from, to, expected] of cases) {
      const changed = text.replace(from, to);
      expect(changed).not.toBe(text);
      expect((await failure(temp(changed))).error.message).toContain(`in.edi: ${expected}, byte `);
    }
  });

  it('a segment longer than maxSegmentBytes, found or still without its terminator', async () => {
    const long = build([{ control: '0001', body: [`N1*ST*${'X'.repeat(300)}`] }]);
    const at = long.indexOf('N1*ST');
    const message = (n: number) =>
      `in.edi: interchange 000000001 / group 1 / set 0001: segment is longer than ${n} bytes, starting "N1*ST*XXXXXXXXXXXXXXXXXXXXXXXX..."; is the segment terminator "~" right? (segment 4, byte ${at})`;
    expect((await failure(temp(long), { maxSegmentBytes: 200 })).error.message).toBe(message(200));
    expect((await failure(temp(long), { maxSegmentBytes: 200, blockBytes: 64 })).error.message).toBe(message(200));
    expect(await sets(temp(long), { maxSegmentBytes: 306 })).toHaveLength(1);
    expect((await failure(temp(long), { maxSegmentBytes: 305 })).error.message).toBe(message(305));
    // A wrong terminator makes the rest of the file one runaway segment: the cap stops it early.
    const runaway = `${isa()}\n${'GS*PO*A*B*20240101*1200*1*X*004010^\n'.repeat(5000)}`;
    const { error } = await failure(temp(runaway), { maxSegmentBytes: 1024, blockBytes: 4096 });
    expect(error.message).toContain('segment is longer than 1024 bytes, starting "GS*PO*A*B*20240101*1200*1*X*00..."');
    expect(error.location).toMatchObject({ byteOffset: 107, position: 'interchange 000000001 (segment 2)' });
  });

  it('rejects unusable options', async () => {
    await expect(readAll(fixture('210-4010.edi'), { maxSegmentBytes: 100 })).rejects.toThrow(RangeError);
    await expect(readAll(fixture('210-4010.edi'), { maxSegmentsPerSet: 1 })).rejects.toThrow(RangeError);
  });
});

describe('readX12: streaming', () => {
  it('reads a ~20 MB file of 210 invoices in several interchanges, block by block', async () => {
    const file = join(dir, 'big.edi');
    const out = createWriteStream(file);
    const interchanges = 7;
    const perInterchange = 6000;
    let expectedCents = 0n;
    for (let x = 1; x <= interchanges; x++) {
      const control = String(x).padStart(9, '0');
      // Alternate delimiters between interchanges to exercise re-detection at every ISA.
      const e = x % 2 === 0 ? '|' : '*';
      const seg = (text: string) => `${text.replaceAll('*', e)}~\r\n`;
      let chunk = `${isa({ element: e, control })}\r\n${seg(`GS*IM*SENDER*RECEIVER*20240101*1200*${x}*X*004010`)}`;
      for (let i = 1; i <= perInterchange; i++) {
        const cents = x * 100_000 + i;
        expectedCents += BigInt(cents);
        const body = [
          `B3**INV-${x}-${i}*SHP-${i}*PP**20240101*${cents}**20240102*035*ABCD`,
          'N1*SH*SHIPPER NAME THAT IS REASONABLY LONG*93*SHIP01',
          'N3*100 SOME STREET*BUILDING 4',
          'N4*DAYTON*OH*45402*US',
          'N1*CN*CONSIGNEE NAME THAT IS ALSO LONG*93*CONS01',
          'N3*200 OTHER AVENUE',
          'N4*COLUMBUS*OH*43215*US',
          'S5*1*LD*1000*L*4*PLT',
          'S5*2*UL*1000*L*4*PLT',
          'LX*1',
          'L5*1*GENERAL MERCHANDISE, NOI, PACKED IN CARTONS*123456*N',
          'L0*1*1000*FR*1000*G***4*PLT**L',
          `L1*1*12.34*CW*${cents}****400`,
          `L3*1000*G***${cents}`,
        ];
        const st = String(i).padStart(4, '0');
        chunk += seg(`ST*210*${st}`) + body.map(seg).join('') + seg(`SE*${body.length + 2}*${st}`);
        if (i % 500 === 0 || i === perInterchange) {
          if (i === perInterchange) chunk += seg(`GE*${perInterchange}*${x}`) + seg(`IEA*1*${control}`);
          if (!out.write(chunk)) await once(out, 'drain');
          chunk = '';
        }
      }
    }
    out.end();
    await once(out, 'finish');
    expect(statSync(file).size).toBeGreaterThan(19_000_000);

    let count = 0;
    let cents = 0n;
    let issues = 0;
    let last: X12TransactionSet | undefined;
    for await (const item of readX12(file, 'big.edi')) {
      if (item.kind !== 'set') throw new Error(item.message);
      count++;
      const { record, issues: found } = map210(item);
      issues += found.length;
      cents += BigInt(record.netAmountDue!.replace('.', ''));
      last = item;
    }
    expect(count).toBe(interchanges * perInterchange);
    expect(issues).toBe(0);
    expect(cents).toBe(expectedCents);
    expect(last!.where).toBe('interchange 000000007 / group 7 / set 6000');
    expect(last!.segments.at(-1)!.position).toBe(2 + perInterchange * 16);
  }, 120_000);
});

async function onlySet(text: string): Promise<X12TransactionSet> {
  const [set, ...rest] = await sets(temp(text));
  expect(rest).toEqual([]);
  return set!;
}

describe('mapping transaction sets', () => {
  it('maps a 4010 210 with N2 amounts, stops and several charges per line', async () => {
    const [first, second] = await sets(fixture('210-4010.edi'));
    const one = map210(first!);
    expect(one.issues).toEqual([]);
    expect(one.record).toEqual({
      type: '210',
      invoiceNumber: 'INV-20240315-01',
      scac: 'ODFL',
      shipmentId: 'SHP778812',
      paymentMethod: 'PP',
      billDate: '2024-03-15',
      deliveryDate: '2024-03-14',
      currency: 'USD',
      netAmountDue: '1287.63',
      parties: [
        {
          qualifier: 'SH',
          name: 'ACME WIDGETS INC',
          idQualifier: '93',
          id: 'ACME01',
          address: ['100 INDUSTRIAL PKWY'],
          city: 'DAYTON',
          state: 'OH',
          postalCode: '45402',
          country: 'US',
        },
        {
          qualifier: 'CN',
          name: 'BIG BOX STORE 4411',
          idQualifier: '93',
          id: 'BBS4411',
          address: ['4411 COMMERCE DR', 'SUITE B'],
          city: 'COLUMBUS',
          state: 'OH',
          postalCode: '43215',
          country: 'US',
        },
        { qualifier: 'BT', name: 'ACME WIDGETS AP' },
      ],
      stops: [
        { stopNo: '1', reason: 'LD', weight: '1200', weightUnit: 'L', quantity: '10', unit: 'PLT', parties: [] },
        { stopNo: '2', reason: 'UL', weight: '1200', weightUnit: 'L', quantity: '10', unit: 'PLT', parties: [] },
      ],
      lines: [
        {
          lineNo: '1',
          description: 'WIDGETS, STEEL, NOI',
          weight: '1200',
          weightQualifier: 'G',
          weightUnit: 'L',
          quantity: '10',
          packaging: 'PLT',
          rate: '85.50',
          rateQualifier: 'CW',
          charge: '1026.00',
          chargeCode: '400',
          charges: [{ rate: '85.50', rateQualifier: 'CW', charge: '1026.00', chargeCode: '400' }],
        },
        {
          lineNo: '2',
          description: 'FUEL SURCHARGE',
          rate: '25.5',
          rateQualifier: 'PC',
          charge: '261.63',
          chargeCode: 'FUE',
          charges: [{ rate: '25.5', rateQualifier: 'PC', charge: '261.63', chargeCode: 'FUE' }],
        },
      ],
      totalWeight: '1200',
      totalWeightQualifier: 'G',
      totalCharges: '1287.63',
    });
    expect(JSON.parse(JSON.stringify(one.record))).toEqual(one.record);

    const two = map210(second!);
    expect(two.issues).toEqual([]);
    expect(two.record).toMatchObject({ invoiceNumber: 'INV-20240315-02', paymentMethod: 'CC', netAmountDue: '75.00' });
    expect(two.record).not.toHaveProperty('shipmentId');
    expect(two.record.stops).toEqual([
      {
        stopNo: '1',
        reason: 'LD',
        parties: [{ qualifier: 'SF', name: 'ACME DOCK 2', city: 'DAYTON', state: 'OH', postalCode: '45402' }],
      },
    ]);
    expect(two.record.lines).toEqual([
      {
        lineNo: '1',
        description: 'PARCEL',
        weight: '45',
        weightQualifier: 'G',
        weightUnit: 'L',
        quantity: '1',
        packaging: 'CTN',
        rateQualifier: 'FR',
        charge: '100.00',
        chargeCode: '400',
        charges: [
          { rateQualifier: 'FR', charge: '100.00', chargeCode: '400' },
          { charge: '-25.00', chargeCode: 'DSC' },
        ],
      },
    ]);
  });

  it('maps a 5010 810 with currency, parties and product ids', async () => {
    const [invoice] = await sets(fixture('5010-810-850-856.edi'));
    expect(map810(invoice!)).toEqual({
      issues: [],
      record: {
        type: '810',
        invoiceNumber: 'INV-88231',
        invoiceDate: '2024-04-01',
        poNumber: 'PO-45100',
        poDate: '2024-03-20',
        currency: 'EUR',
        parties: [
          { qualifier: 'BT', name: 'MEGAMART ACCOUNTS PAYABLE', idQualifier: '92', id: 'MM-AP' },
          {
            qualifier: 'RE',
            name: 'GLOBEX SUPPLY GMBH',
            idQualifier: '91',
            id: 'GLX',
            address: ['HAFENSTRASSE 12'],
            city: 'HAMBURG',
            postalCode: '20457',
            country: 'DE',
          },
        ],
        lines: [
          {
            lineNo: '1',
            quantity: '24',
            unit: 'EA',
            unitPrice: '16.5',
            productIds: { VP: 'GLX-100', UP: '012345678905' },
            description: 'BLUE WIDGET, LARGE',
          },
          {
            lineNo: '2',
            quantity: '3.5',
            unit: 'KG',
            unitPrice: '4',
            productIds: { BP: 'MM-7781' },
            description: 'BULK FASTENERS',
          },
        ],
        totalAmount: '410.00',
        totalLines: '2',
      },
    });
  });

  it('maps a 5010 850, defaulting the currency to USD', async () => {
    const [, order] = await sets(fixture('5010-810-850-856.edi'));
    expect(map850(order!)).toEqual({
      issues: [],
      record: {
        type: '850',
        poNumber: 'PO-45100',
        poDate: '2024-03-20',
        purpose: '00',
        orderType: 'SA',
        currency: 'USD',
        parties: [
          {
            qualifier: 'ST',
            name: 'MEGAMART DC 7',
            idQualifier: '92',
            id: 'DC7',
            address: ['900 LOGISTICS WAY', 'DOCK 4'],
            city: 'RENO',
            state: 'NV',
            postalCode: '89502',
            country: 'US',
          },
        ],
        lines: [
          {
            lineNo: '1',
            quantity: '24',
            unit: 'EA',
            unitPrice: '16.5',
            productIds: { VP: 'GLX-100', UP: '012345678905' },
            description: 'BLUE WIDGET, LARGE',
          },
          { lineNo: '2', quantity: '3.5', unit: 'KG', unitPrice: '4', productIds: { BP: 'MM-7781' } },
        ],
        totalLines: '2',
      },
    });
  });

  it('maps a 5010 856, taking each line PO number from its order level', async () => {
    const [, , notice] = await sets(fixture('5010-810-850-856.edi'));
    expect(map856(notice!)).toEqual({
      issues: [],
      record: {
        type: '856',
        shipmentId: 'SHIP-3301',
        shipDate: '2024-04-02',
        shipTime: '0800',
        purpose: '00',
        carrierScac: 'ODFL',
        poNumbers: ['PO-45100', 'PO-45200'],
        parties: [
          { qualifier: 'SF', name: 'GLOBEX SUPPLY GMBH', idQualifier: '91', id: 'GLX' },
          { qualifier: 'ST', name: 'MEGAMART DC 7', idQualifier: '92', id: 'DC7' },
        ],
        levels: [
          { id: '1', code: 'S' },
          { id: '2', parentId: '1', code: 'O', poNumber: 'PO-45100' },
          { id: '3', parentId: '2', code: 'P' },
          { id: '4', parentId: '3', code: 'I' },
          { id: '5', parentId: '3', code: 'I' },
          { id: '6', parentId: '1', code: 'O', poNumber: 'PO-45200' },
          { id: '7', parentId: '6', code: 'I' },
        ],
        lines: [
          {
            hlId: '4',
            poNumber: 'PO-45100',
            lineNo: '1',
            productIds: { VP: 'GLX-100', UP: '012345678905' },
            quantityShipped: '24',
            unit: 'EA',
          },
          {
            hlId: '5',
            poNumber: 'PO-45100',
            lineNo: '2',
            productIds: { BP: 'MM-7781' },
            quantityShipped: '3.5',
            unit: 'KG',
          },
          {
            hlId: '7',
            poNumber: 'PO-45200',
            lineNo: '1',
            productIds: { VP: 'GLX-200' },
            quantityShipped: '10',
            unit: 'EA',
          },
        ],
        totalLines: '7',
      },
    });
  });

  it('856 without HL02 parents falls back to the last order level; an unknown parent is an issue', async () => {
    const set = await onlySet(
      build([
        {
          id: '856',
          control: '0001',
          body: [
            'BSN*00*S1*20240101*1200',
            'HL*1**S',
            'HL*2**O',
            'PRF*PO-A',
            'HL*3**I',
            'SN1**5*EA',
            'HL*4*9*I',
            'LIN**VP*X',
            'CTT*3',
          ],
        },
      ]),
    );
    const { record, issues } = map856(set);
    expect(record.lines).toEqual([
      { hlId: '3', poNumber: 'PO-A', productIds: {}, quantityShipped: '5', unit: 'EA' },
      { hlId: '4', poNumber: 'PO-A', productIds: { VP: 'X' } },
    ]);
    expect(issues).toEqual([
      {
        path: 'levels[3].parentId',
        code: 'unknown_parent',
        message:
          'HL02 parent "9" is not an earlier HL01 (interchange 000000001 / group 1 / set 0001, HL at segment 10)',
        value: '9',
      },
      {
        path: 'totalLines',
        code: 'count_mismatch',
        message:
          'CTT01 says "3" HL segments, the set has 4 (interchange 000000001 / group 1 / set 0001, CTT at segment 12)',
        value: '3',
      },
    ]);
  });

  it('reports missing required segments and elements with their position', async () => {
    const set = await onlySet(
      build([{ id: '210', control: '0007', body: ['B3**INV-1****2024-01-01*12.50****', 'LX*1', 'L1*1**FR*1x0'] }], {
        functionalId: 'IM',
      }),
    );
    const { record, issues } = map210(set);
    const at = (seg: string, n: number) => `(interchange 000000001 / group 1 / set 0007, ${seg} at segment ${n})`;
    expect(issues).toEqual([
      {
        path: 'paymentMethod',
        code: 'missing_element',
        message: `B304 (shipment method of payment) is missing ${at('B3', 4)}`,
      },
      {
        path: 'billDate',
        code: 'invalid_date',
        message: `B306 (billing date) "2024-01-01" is not a CCYYMMDD date ${at('B3', 4)}`,
        value: '2024-01-01',
      },
      {
        path: 'netAmountDue',
        code: 'invalid_number',
        message: `B307 (net amount due) "12.50" is not an N2 number (digits with 2 implied decimals) ${at('B3', 4)}`,
        value: '12.50',
      },
      {
        path: 'scac',
        code: 'missing_element',
        message: `B311 (standard carrier alpha code) is missing ${at('B3', 4)}`,
      },
      {
        path: 'lines[0].charges[0].charge',
        code: 'invalid_number',
        message: `L104 (charge) "1x0" is not an N2 number (digits with 2 implied decimals) ${at('L1', 6)}`,
        value: '1x0',
      },
      {
        path: '',
        code: 'missing_segment',
        message:
          'L3 segment (total weight and charges) is missing (interchange 000000001 / group 1 / set 0007, ST at segment 3)',
      },
    ]);
    expect(record).toEqual({
      type: '210',
      invoiceNumber: 'INV-1',
      currency: 'USD',
      parties: [],
      stops: [],
      lines: [{ lineNo: '1', rateQualifier: 'FR', charges: [{ rateQualifier: 'FR' }] }],
    });
    expect(map810(set).issues.map((i) => [i.code, i.path])).toEqual([
      ['wrong_transaction_set', ''],
      ['missing_segment', ''],
      ['missing_segment', ''],
    ]);
  });

  it('810, 850: missing BIG/TDS and BEG/PO1, half a product id pair, a line count that disagrees', async () => {
    const invoice = await onlySet(build([{ id: '810', control: '0001', body: ['IT1*1*2*EA*3.5**VP', 'CTT*2'] }]));
    expect(map810(invoice).issues.map((i) => i.message)).toEqual([
      'IT107 (product/service id) is missing (interchange 000000001 / group 1 / set 0001, IT1 at segment 4)',
      'CTT01 says "2" IT1 segments, the set has 1 (interchange 000000001 / group 1 / set 0001, CTT at segment 5)',
      'BIG segment (beginning segment for invoice) is missing (interchange 000000001 / group 1 / set 0001, ST at segment 3)',
      'TDS segment (total monetary value summary) is missing (interchange 000000001 / group 1 / set 0001, ST at segment 3)',
    ]);
    const order = await onlySet(build([{ id: '850', control: '0001', body: ['BEG*00**PO-1**20240231'] }]));
    expect(map850(order).issues.map((i) => [i.path, i.code])).toEqual([
      ['orderType', 'missing_element'],
      ['poDate', 'invalid_date'],
      ['', 'missing_segment'],
    ]);
  });

  it('dispatches on the set id and refuses other sets', async () => {
    const [a, b, c] = await sets(fixture('5010-810-850-856.edi'));
    expect(mapTransactionSet(a!).record?.type).toBe('810');
    expect(mapTransactionSet(b!).record?.type).toBe('850');
    expect(mapTransactionSet(c!).record?.type).toBe('856');
    const ack = await onlySet(build([{ id: '997', control: '0001', body: ['AK1*PO*1', 'AK9*A*1*1*1'] }]));
    expect(mapTransactionSet(ack)).toEqual({
      issues: [
        {
          path: '',
          code: 'unsupported_transaction_set',
          message:
            'transaction set "997" is not supported: only 210, 810, 850 and 856 are (interchange 000000001 / group 1 / set 0001, ST at segment 3)',
          value: '997',
        },
      ],
    });
  });

  it('converts N2 implied decimals and CCYYMMDD dates exactly', () => {
    const n2 = ['128763', '-2500', '5', '0', '-0', '000100', '12.50', '', '1e3', '+5'].map((v) => impliedDecimal(v, 2));
    expect(n2).toEqual([
      '1287.63',
      '-25.00',
      '0.05',
      '0.00',
      '0.00',
      '1.00',
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(impliedDecimal('0042', 0)).toBe('42');
    expect(['20240229', '20230229', '20241301', '240315', '2024-03-15'].map(isoDate)).toEqual([
      '2024-02-29',
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});
