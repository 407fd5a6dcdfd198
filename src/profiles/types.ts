/**
 * What a profile declares. A profile is one folder under src/profiles/ plus one line in src/profiles/index.ts.
 * Profiles know nothing about Temporal or Postgres: they read bytes, check records and name keys.
 */
import type { BatchConfig } from '../shared/contracts.ts';

/** One problem with one field, as a reviewer reads it. */
export interface FieldIssue {
  /** Field path in the source record, e.g. `grant_code` or `lines[2].hs_code`; `''` for the record as a whole. */
  path: string;
  /** Machine-readable issue code, e.g. `invalid_prefix`, `not_integer`, `unknown_column`. */
  code: string;
  message: string;
  /** The offending value as it was in the input (absent when the field was missing). */
  value?: unknown;
}

/** Where a record came from, so every error can name the file, record and place. */
export interface RecordLocation {
  file: string;
  /** 1-based physical line of the record's first line (text formats). */
  line?: number;
  /** Byte offset of the record's first byte in the input. */
  byteOffset?: number;
}

/** A record as read from the input, before validation: field name -> raw text. */
export interface SourceRecord {
  /** 1-based number of the record within the batch. */
  recordNo: number;
  location: RecordLocation;
  fields: Record<string, string>;
}

/** One chunk of a planned input: whole documents only, in input order. */
export interface ChunkPlan {
  chunkNo: number;
  byteStart: number;
  byteEnd: number;
  firstRecord: number;
  recordCount: number;
  /** 1-based physical line of the chunk's first record (text formats): lets a reader give each record its line. */
  firstLine?: number;
}

/** Format facts found while planning that every chunk reader needs (e.g. the CSV header); stored with the batch. */
export type InputLayout = Record<string, unknown>;

export interface PlanLimits {
  maxRecords: number;
  maxBytes: number;
}

export type ValidationOutcome<T> = { ok: true; record: T } | { ok: false; reasonCode: string; issues: FieldIssue[] };

export type Classification = { hold: false; label: string } | { hold: true; reasonCode: string; issues: FieldIssue[] };

export interface Profile<T = unknown> {
  id: string;
  title: string;
  formats: readonly string[];
  /** Profile defaults layered over the global defaults, under the user's `--config`. */
  defaultConfig: Partial<Pick<BatchConfig, 'max_chunk_size' | 'max_payload_mb' | 'max_concurrent_chunks'>>;
  /**
   * Reads the whole input once and yields its chunk plan. Throws `InputError` when the input cannot be planned
   * (wrong header, unreadable encoding); the error names the file and position.
   */
  plan(file: string, fileName: string, limits: PlanLimits): AsyncIterable<ChunkPlan | { layout: InputLayout }>;
  /** Reads one planned chunk back into source records. */
  readChunk(file: string, fileName: string, layout: InputLayout, chunk: ChunkPlan): Promise<SourceRecord[]>;
  /** Checks one record against the canonical schema; returns the canonical record or field-level issues. */
  validate(fields: Record<string, string>): ValidationOutcome<T>;
  /** Business rules on a valid record: a label, or a hold for review. */
  classify(record: T): Classification;
  /** Key that makes a commit idempotent: the same record content and business key always give the same key. */
  idempotencyKey(record: T): string;
  /** Human-readable business key (shown in review and audit). */
  businessKey(record: T): string;
}

/** A located, permanent problem with the input as a whole. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly location: RecordLocation & { recordNo?: number; field?: string },
    readonly code: 'parse_error' | 'schema_violation' = 'parse_error',
  ) {
    super(message);
    this.name = 'InputError';
  }
}
