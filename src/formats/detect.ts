/**
 * Which format a file is in: sniffed from its first bytes, with the file name's extension to break ties (a CSV and
 * an X12 file are both plain text). A user who knows better says `input.format` in the batch configuration.
 */
import { open } from 'node:fs/promises';
import { extname } from 'node:path';

/** `feed-list`: a text file of HTTP(S) URLs, one per line, whose documents are fetched while planning (never detected). */
export type InputFormat = 'csv' | 'xlsx' | 'xml' | 'x12' | 'json' | 'ndjson' | 'feed-list';

const BY_EXTENSION: Readonly<Record<string, InputFormat>> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.xlsx': 'xlsx',
  '.xml': 'xml',
  '.edi': 'x12',
  '.x12': 'x12',
  '.json': 'json',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
};

export async function detectFormat(file: string, fileName: string): Promise<InputFormat> {
  const handle = await open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const sniffed = sniff(head);
  return sniffed ?? BY_EXTENSION[extname(fileName).toLowerCase()] ?? 'csv';
}

/** The format the bytes show beyond doubt, or undefined (plain text could be CSV or anything). */
export function sniff(head: Buffer): InputFormat | undefined {
  if (head.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))) return 'xlsx';
  let text = head.toString('utf8');
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  text = text.trimStart();
  if (text.startsWith('ISA')) return 'x12';
  if (text.startsWith('<')) return 'xml';
  if (text.startsWith('[')) return 'json';
  if (text.startsWith('{')) {
    // One object per line is NDJSON; a pretty-printed or single-line object document is JSON.
    const firstLine = text.split('\n', 1)[0]!.trim();
    try {
      JSON.parse(firstLine);
      return text.length > firstLine.length && text.slice(firstLine.length).trim().startsWith('{') ? 'ndjson' : 'json';
    } catch {
      return 'json';
    }
  }
  return undefined;
}
