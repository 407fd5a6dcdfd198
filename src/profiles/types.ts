/**
 * What a profile declares. A profile is one folder under src/profiles/ plus one line in src/profiles/index.ts.
 * Profiles know nothing about Temporal or Postgres: they read bytes, check records and name keys.
 */
import type { ZodType } from 'zod';
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
  /**
   * Where in a structured input, as a person reads it: `sheet "Claims" row 12`, `/Invoices/Invoice[3]`,
   * `interchange 000000001 / group 1 / set 0001 (ST at segment 3)`.
   */
  position?: string;
}

/**
 * A record's fields as read from the input, before validation: plain JSON. Flat formats give field name -> text;
 * documents (an EDI 210, a UBL invoice, a customs invoice with its lines) give nested objects and arrays.
 */
export type SourceFields = Record<string, unknown>;

/** A record as read from the input, before validation. */
export interface SourceRecord {
  /** 1-based number of the record within the batch. */
  recordNo: number;
  location: RecordLocation;
  fields: SourceFields;
  /**
   * Set when the reader could not make a record of this part of the input (an X12 set whose SE count is wrong, an
   * NDJSON line that is not JSON): the record is held as `parse_error` with these issues, the rest of the file goes on.
   */
  parseIssues?: FieldIssue[];
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

/** How to read the input, from the batch configuration's `input` section (all optional: formats are detected). */
export interface InputOptions {
  format?: string;
  encoding?: 'utf-8' | 'windows-1252';
  delimiter?: string;
  sheet?: string;
}

/** Reference data a profile reads while classifying: rate contracts, HS codes, promotions, committed orders. */
export interface ReferenceLookup {
  /** Entries of a reference kind (`sluice reference import <kind> <file>`) by key; absent keys are missing. */
  reference(kind: string, keys: readonly string[]): Promise<Map<string, unknown>>;
  /** Committed ledger payloads of a profile by business key (e.g. purchase orders an ASN refers to). */
  ledger(profile: string, businessKeys: readonly string[]): Promise<Map<string, unknown>>;
}

/** One entry of reference data: its key and its JSON data. */
export interface ReferenceEntry {
  key: string;
  data: unknown;
}

/** A kind of reference data a profile can import from a file. */
export interface ReferenceKind {
  description: string;
  /** Reads the file into entries; throws `InputError` naming the file and line for bad input. */
  read(file: string, fileName: string): AsyncIterable<ReferenceEntry>;
}

/** Everything a profile's chunk stages know about the batch beyond the record. */
export interface ProfileContext {
  /** The batch configuration's `profile_options`, as the user wrote them (checked by `optionsSchema`). */
  options: Record<string, unknown>;
  /** Seed 000's routing thresholds (`batch_config.routing_rules`). */
  routing: Record<string, number | boolean>;
}

export interface Profile<T = unknown, C = unknown> {
  id: string;
  title: string;
  formats: readonly string[];
  /** Profile defaults layered over the global defaults, under the user's `--config`. */
  defaultConfig: Partial<
    Pick<BatchConfig, 'max_chunk_size' | 'max_payload_mb' | 'max_concurrent_chunks' | 'task_queues' | 'profile_options'>
  >;
  /** Checks `profile_options` at submit time; errors name the key. */
  optionsSchema?: ZodType;
  /** Sample inputs with planted defects and their oracle (`sluice generate <profile>`, tests, the demo). */
  generator?: ProfileGenerator;
  /** Reference data this profile can import (`sluice reference import <kind> <file>`), by kind. */
  references?: Readonly<Record<string, ReferenceKind>>;
  /**
   * Reads the whole input once and yields its chunk plan. Throws `InputError` when the input cannot be planned
   * (wrong header, unreadable encoding); the error names the file and position.
   */
  plan(
    file: string,
    fileName: string,
    limits: PlanLimits,
    input?: InputOptions,
  ): AsyncIterable<ChunkPlan | { layout: InputLayout }>;
  /** Reads one planned chunk back into source records. */
  readChunk(file: string, fileName: string, layout: InputLayout, chunk: ChunkPlan): Promise<SourceRecord[]>;
  /** Checks one record against the canonical schema; returns the canonical record or field-level issues. */
  validate(fields: SourceFields, context?: ProfileContext): ValidationOutcome<T>;
  /**
   * Loads what classifying these records needs (reference data, committed orders) in one go per chunk; the result
   * is handed to `classify`. Absent: `classify` gets `undefined`.
   */
  prepareClassify?(records: readonly T[], lookup: ReferenceLookup, context: ProfileContext): Promise<C>;
  /** Business rules on a valid record: a label, or a hold for review. */
  classify(record: T, prepared?: C, context?: ProfileContext): Classification;
  /** Key that makes a commit idempotent: the same record content and business key always give the same key. */
  idempotencyKey(record: T): string;
  /** Human-readable business key (shown in review and audit). */
  businessKey(record: T): string;
}

/** What processing a generated input must produce: the oracle that end-to-end tests and drills compare with. */
export interface ExpectedOutcome {
  profile: string;
  records: number;
  /** Valid, not held, first of their key. */
  committed: number;
  duplicates: number;
  /** Records with a validation or classification defect. */
  quarantined: number;
  /** Quarantined records per reason code; reasons with no records are left out. */
  byReason: Record<string, number>;
  seed: number;
  /** The input format written (profiles that read several). */
  format?: string;
  /**
   * Optional content oracle: the sum of one numeric field over the records committed without review (e.g. invoice
   * totals), as a decimal string, and the field it sums.
   */
  committedSum?: { field: string; value: string };
  /**
   * Optional content oracle: hex SHA-256 over the business keys of the records committed without review, sorted in
   * JavaScript string order, each followed by `\n` (`committedKeyHash` in src/profiles/generator-kit.ts).
   */
  committedKeyHash?: string;
}

export interface GenerateOptions {
  records: number;
  seed: number;
  /** Fractions (0..1) of records that get each defect; a record gets at most one. */
  defects: Record<string, number>;
  /** One of the generator's formats; default its first. */
  format?: string;
}

/** Writes sample inputs with planted defects, and says what processing them must give. */
export interface ProfileGenerator {
  formats: readonly string[];
  /** Defect kinds `defects` may name. */
  defects: readonly string[];
  /** Defect rates used when the user gives none (the demo and `sluice generate` without --defects). */
  defaultDefects: Record<string, number>;
  /** Writes `out` and returns the oracle. Reference data the records need is written next to it (see `references`). */
  generate(out: string, opts: GenerateOptions): Promise<ExpectedOutcome>;
  /**
   * Reference files the generated records are classified against, written next to `out`: kind -> file path.
   * `sluice generate` prints the `sluice reference import` commands; tests import them before submitting.
   */
  references?(out: string, opts: GenerateOptions): Promise<Record<string, string>>;
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
