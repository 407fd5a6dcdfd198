/**
 * Builds a profile's `plan` and `readChunk` from one record reader per format: the input's format is detected (or
 * taken from `input.format`), its reader turns the file into whole-document records, and staging cuts the chunks
 * (src/formats/staged.ts). A profile that reads five formats writes five small readers and nothing else here.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { detectFormat } from '../formats/detect.ts';
import type { InputFormat } from '../formats/detect.ts';
import { planStaged, readStagedChunk } from '../formats/staged.ts';
import type { StagedRecord } from '../formats/staged.ts';
import { InputError } from './types.ts';
import type { ChunkPlan, InputLayout, InputOptions, PlanLimits, Profile, SourceRecord } from './types.ts';

/** Reads a whole input file into records (one per document: an invoice with its lines, an ASN, a claim line). */
export type RecordReader = (file: string, fileName: string, input: InputOptions) => AsyncIterable<StagedRecord>;

export type RecordReaders = Partial<Record<InputFormat, RecordReader>>;

/** The layout a staged plan stores with the batch. */
export type StagedLayout = { format: InputFormat; staged: string };

/** The input's format: the configured one, else detected; an error names the formats the profile reads. */
export async function resolveFormat(
  profileId: string,
  formats: readonly string[],
  file: string,
  fileName: string,
  input: InputOptions,
): Promise<InputFormat> {
  const format = (input.format as InputFormat | undefined) ?? (await detectFormat(file, fileName));
  if (!formats.includes(format)) {
    throw new InputError(
      `${fileName}: profile ${profileId} does not read ${format} input${input.format ? '' : ' (detected)'}; it reads ${formats.join(', ')} (set batch_config.input.format to override detection)`,
      { file: fileName },
    );
  }
  return format;
}

export function stagedInput(profileId: string, readers: RecordReaders): Pick<Profile, 'plan' | 'readChunk'> {
  const formats = Object.keys(readers);
  return {
    async *plan(file: string, fileName: string, limits: PlanLimits, input: InputOptions = {}) {
      const format = await resolveFormat(profileId, formats, file, fileName, input);
      const reader = readers[format]!;
      const key = createHash('sha256').update(JSON.stringify({ profileId, format, input })).digest('hex').slice(0, 16);
      const staged = `${basename(file)}.staged-${key}.ndjson`;
      const layout: StagedLayout = { format, staged };
      yield { layout };
      yield* planStaged(reader(file, fileName, input), join(dirname(file), staged), limits);
    },
    readChunk(file: string, fileName: string, layout: InputLayout, chunk: ChunkPlan): Promise<SourceRecord[]> {
      const { staged } = layout as StagedLayout;
      if (typeof staged !== 'string' || staged.includes('/')) {
        throw new Error(`${fileName}: batch layout has no staged file: ${JSON.stringify(layout)}`);
      }
      return readStagedChunk(join(dirname(file), staged), fileName, chunk);
    },
  };
}
