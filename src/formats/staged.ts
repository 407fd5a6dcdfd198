/**
 * Staging for formats that cannot be read back by byte range (XLSX, XML, X12, JSON): planning reads the input once,
 * writes each record as one NDJSON line to a staged file next to the input blob, and cuts chunks of whole records
 * in that file. A chunk reader then reads its byte range of the staged file, as it would a CSV chunk. Staging is a
 * pure function of the input bytes and the reading options, so a retried plan writes the same file again. A record
 * with a NUL, a lone surrogate or U+FFFD in a field is staged with a parse issue naming the field
 * (unreadable-text.ts), so that it is held for review instead of committed damaged (or failing its commit:
 * PostgreSQL cannot store a NUL or a lone surrogate).
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { InputError } from '../profiles/types.ts';
import { checkText } from './unreadable-text.ts';
import type {
  ChunkPlan,
  FieldIssue,
  PlanLimits,
  RecordLocation,
  SourceFields,
  SourceRecord,
} from '../profiles/types.ts';

/** A record as a format reader hands it to staging. */
export interface StagedRecord {
  fields: SourceFields;
  location: RecordLocation;
  parseIssues?: FieldIssue[];
}

const NEWLINE = 0x0a;

/**
 * Writes `records` to `stagedFile` (atomically: temp file, then rename) and yields chunk plans over it, each at
 * most `maxRecords` records and `maxBytes` staged bytes (a single larger record gets a chunk of its own).
 */
export async function* planStaged(
  records: AsyncIterable<StagedRecord>,
  stagedFile: string,
  limits: PlanLimits,
): AsyncGenerator<ChunkPlan> {
  const tmp = `${stagedFile}.tmp-${randomUUID()}`;
  const out = createWriteStream(tmp);
  let offset = 0;
  let chunkNo = 0;
  let nextRecord = 1;
  let current: ChunkPlan | undefined;
  try {
    for await (const record of records) {
      let text = JSON.stringify(record);
      // JSON.stringify writes a NUL as \u0000 and a lone surrogate as \udXXX; U+FFFD stays as it is.
      if (text.includes('\\u0000') || text.includes('\ufffd') || /\\ud[89a-f]/.test(text)) {
        text = JSON.stringify(withTextIssues(record));
      }
      const line = Buffer.from(`${text}\n`, 'utf8');
      if (
        current &&
        (current.recordCount >= limits.maxRecords || offset + line.length - current.byteStart > limits.maxBytes)
      ) {
        yield current;
        current = undefined;
      }
      current ??= { chunkNo: chunkNo++, byteStart: offset, byteEnd: offset, firstRecord: nextRecord, recordCount: 0 };
      if (!out.write(line)) await once(out, 'drain');
      offset += line.length;
      current.byteEnd = offset;
      current.recordCount += 1;
      nextRecord += 1;
    }
    out.end();
    await once(out, 'finish');
    await rename(tmp, stagedFile);
  } catch (err) {
    // A write may still be in flight: destroying the stream then emits an error that nobody else listens for, and an
    // unhandled stream error would take the whole worker down. The reader's error is the one to report.
    out.on('error', () => undefined);
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  if (current) yield current;
}

/**
 * The record with NULs and lone surrogates replaced and an issue for each field holding one or U+FFFD
 * (unreadable-text.ts), so that it is held as a parse error; its location and the issues a reader gave are made
 * storable too.
 */
function withTextIssues(record: StagedRecord): StagedRecord {
  const { value: fields, issues } = checkText(record.fields);
  const { value: rest } = checkText({ location: record.location, parseIssues: record.parseIssues });
  const parseIssues = [...(rest.parseIssues ?? []), ...issues];
  return { fields, location: rest.location, ...(parseIssues.length > 0 ? { parseIssues } : {}) };
}

/** Reads one planned chunk of a staged file back into source records, checking it holds what the plan says. */
export async function readStagedChunk(stagedFile: string, fileName: string, chunk: ChunkPlan): Promise<SourceRecord[]> {
  const length = chunk.byteEnd - chunk.byteStart;
  const buf = Buffer.alloc(length);
  let handle;
  try {
    handle = await open(stagedFile, 'r');
  } catch (err) {
    throw new Error(
      `${fileName}: the staged records of this batch (${stagedFile}) are missing; workers must share the blob directory (${(err as Error).message})`,
    );
  }
  try {
    const { bytesRead } = await handle.read(buf, 0, length, chunk.byteStart);
    if (bytesRead !== length)
      throw new InputError(`${fileName}: staged records end before chunk ${chunk.chunkNo} does`, { file: fileName });
  } finally {
    await handle.close();
  }
  const records: SourceRecord[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(NEWLINE, start);
    if (end < 0) end = buf.length;
    const staged = JSON.parse(buf.toString('utf8', start, end)) as StagedRecord;
    records.push({ recordNo: chunk.firstRecord + records.length, ...staged });
    start = end + 1;
  }
  if (records.length !== chunk.recordCount) {
    throw new InputError(
      `${fileName}: chunk ${chunk.chunkNo} holds ${records.length} staged records, the plan says ${chunk.recordCount}`,
      { file: fileName },
    );
  }
  return records;
}
