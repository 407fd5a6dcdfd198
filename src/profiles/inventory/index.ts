/**
 * Lab inventory manifests (seed 004): one CSV row per asset, validated against the institutional schema, held for
 * review when the location code is not standard or the quantity looks like a typo, committed once per asset and grant.
 */
import { createHash } from 'node:crypto';
import { planCsvChunks, readCsvChunk, toCsvLayout } from '../../formats/csv.ts';
import type { Profile } from '../types.ts';
import { DEFECTS, generateInventoryFile } from './generator.ts';
import { readXlsxRecords } from '../../formats/xlsx.ts';
import { resolveFormat, stagedInput } from '../staged-input.ts';
import { HOLD_REASON_CODES, classifyInventory } from './classify.ts';
import { VALIDATION_REASON_CODES, validateInventory } from './schema.ts';
import type { InventoryRecord } from './schema.ts';

export type { InventoryRecord } from './schema.ts';

/** Every reason code an inventory record can be quarantined with: validation reasons, then hold reasons. */
export const INVENTORY_REASON_CODES = [...VALIDATION_REASON_CODES, ...HOLD_REASON_CODES] as const;
export type InventoryReasonCode = (typeof INVENTORY_REASON_CODES)[number];

/** `<asset_id>/<GRANT_CODE>`: an asset is recorded once per grant that paid for it. */
export const inventoryBusinessKey = (record: InventoryRecord): string => `${record.asset_id}/${record.grant_code}`;

/** Hex SHA-256 of the profile id and the business key, joined by unit separators (which no field can contain). */
export const inventoryIdempotencyKey = (record: InventoryRecord): string =>
  createHash('sha256').update(`inventory\u001f${record.asset_id}\u001f${record.grant_code}`).digest('hex');

/** XLSX manifests: the first sheet (or `input.sheet`), header row first, one asset per row. */
const spreadsheet = stagedInput('inventory', {
  async *xlsx(file, fileName, input) {
    for await (const row of readXlsxRecords(file, fileName, input.sheet ? { sheet: input.sheet } : {})) {
      yield { fields: row.fields, location: { file: fileName, position: row.position } };
    }
  },
});

export const inventoryProfile: Profile<InventoryRecord> = {
  id: 'inventory',
  title: 'Lab inventory manifest',
  formats: ['csv', 'xlsx'],
  // Manifest rows are ~65 bytes; at seed 000's 750 records a chunk, orchestration (~120 ms of CPU per chunk on the
  // benchmark machine) outweighs the data work, while 5,000 keep sluice at the plain pipeline's pace (README).
  defaultConfig: { max_chunk_size: 5000 },
  // CSV is planned by byte range in place, at disk speed; XLSX is staged (src/profiles/staged-input.ts).
  async *plan(file, fileName, limits, input = {}) {
    const format = await resolveFormat('inventory', ['csv', 'xlsx'], file, fileName, input);
    if (format === 'csv') yield* planCsvChunks(file, fileName, limits, input);
    else yield* spreadsheet.plan(file, fileName, limits, { ...input, format });
  },
  readChunk: (file, fileName, layout, chunk) =>
    'staged' in layout
      ? spreadsheet.readChunk(file, fileName, layout, chunk)
      : readCsvChunk(file, fileName, toCsvLayout(layout), chunk),
  validate: validateInventory,
  classify: classifyInventory,
  idempotencyKey: inventoryIdempotencyKey,
  businessKey: inventoryBusinessKey,
  generator: {
    formats: ['csv', 'xlsx'],
    defects: DEFECTS,
    defaultDefects: {
      invalid_grant_code: 0.01,
      invalid_quantity: 0.01,
      nonstandard_location: 0.01,
      quantity_outlier: 0.005,
      duplicate: 0.01,
    },
    generate: generateInventoryFile,
  },
};
