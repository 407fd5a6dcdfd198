import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getProfile, profiles } from '../../src/profiles/index.ts';
import { INVENTORY_REASON_CODES, inventoryProfile } from '../../src/profiles/inventory/index.ts';
import type { InventoryRecord } from '../../src/profiles/inventory/index.ts';
import { categoryClass, LOCATION_CODE } from '../../src/profiles/inventory/classify.ts';
import type { ChunkPlan, FieldIssue, InputLayout } from '../../src/profiles/types.ts';

const row = (over: Record<string, string> = {}): Record<string, string> => ({
  asset_id: 'CH-0000001',
  grant_code: 'NIH-R01-GM123456',
  category: 'Centrifuge, refrigerated',
  quantity: '12',
  location: 'CHEM-101',
  acquisition_date: '2023-03-15',
  ...over,
});

const without = (field: string): Record<string, string> => {
  const fields = row();
  delete fields[field];
  return fields;
};

const issuesOf = (fields: Record<string, string>): FieldIssue[] => {
  const outcome = inventoryProfile.validate(fields);
  if (outcome.ok) throw new Error(`expected ${JSON.stringify(fields)} to be invalid`);
  return outcome.issues;
};
const codesOf = (fields: Record<string, string>): string[] => issuesOf(fields).map((i) => `${i.path}:${i.code}`);
const reasonOf = (fields: Record<string, string>): string => {
  const outcome = inventoryProfile.validate(fields);
  return outcome.ok ? 'ok' : outcome.reasonCode;
};

const valid = (over: Partial<InventoryRecord> = {}): InventoryRecord => ({
  asset_id: 'CH-0000001',
  grant_code: 'NIH-R01-GM123456',
  category: 'Reagent',
  quantity: 12,
  location: 'CHEM-101',
  acquisition_date: '2023-03-15',
  ...over,
});

describe('inventory validation', () => {
  it('returns the canonical record: trimmed text, upper-cased grant code, numeric quantity', () => {
    expect(
      inventoryProfile.validate(row({ asset_id: ' CH-7 ', grant_code: ' NIH-r01-ab123 ', quantity: ' 007 ' })),
    ).toEqual({
      ok: true,
      record: {
        asset_id: 'CH-7',
        grant_code: 'NIH-R01-AB123',
        category: 'Centrifuge, refrigerated',
        quantity: 7,
        location: 'CHEM-101',
        acquisition_date: '2023-03-15',
      },
    });
  });

  it('requires every column, non-empty after trimming', () => {
    for (const field of ['asset_id', 'grant_code', 'category', 'quantity', 'location', 'acquisition_date']) {
      expect(issuesOf(without(field))).toEqual([{ path: field, code: 'missing', message: `${field} is missing` }]);
      expect(issuesOf(row({ [field]: '  ' }))).toEqual([
        { path: field, code: 'empty', message: `${field} is empty`, value: '  ' },
      ]);
      expect(reasonOf(without(field))).toBe('missing_field');
    }
  });

  it('accepts exactly the institutional grant prefixes, case-sensitively', () => {
    for (const prefix of ['NIH-', 'NSF-', 'DOE-', 'DOD-', 'EPA-']) {
      expect(reasonOf(row({ grant_code: `${prefix}123` }))).toBe('ok');
    }
    for (const code of ['nih-R01-1', 'XYZ-123', 'NIH123', 'NASA-1', ' -NIH-1', 'NIH']) {
      expect(codesOf(row({ grant_code: code }))).toEqual(['grant_code:invalid_prefix']);
      expect(reasonOf(row({ grant_code: code }))).toBe('invalid_grant_code');
    }
    expect(issuesOf(row({ grant_code: 'XYZ-1' }))[0]?.value).toBe('XYZ-1');
  });

  it('accepts a quantity only as plain non-negative digits within the safe integer range', () => {
    expect(inventoryProfile.validate(row({ quantity: '0' }))).toMatchObject({ ok: true, record: { quantity: 0 } });
    expect(inventoryProfile.validate(row({ quantity: String(Number.MAX_SAFE_INTEGER) }))).toMatchObject({
      ok: true,
      record: { quantity: Number.MAX_SAFE_INTEGER },
    });
    const cases: Array<[string, string]> = [
      ['1.5', 'not_integer'],
      ['1e3', 'not_integer'],
      ['abc', 'not_integer'],
      ['+4', 'not_integer'],
      ['0x10', 'not_integer'],
      ['1 000', 'not_integer'],
      ['-0', 'not_integer'],
      ['-3', 'negative'],
      ['-1.5', 'negative'],
      ['9007199254740992', 'too_large'],
      ['99999999999999999999', 'too_large'],
    ];
    for (const [quantity, code] of cases) {
      expect(issuesOf(row({ quantity })), quantity).toEqual([
        expect.objectContaining({ path: 'quantity', code, value: quantity }),
      ]);
      expect(reasonOf(row({ quantity }))).toBe('invalid_quantity');
    }
  });

  it('accepts only real calendar dates written YYYY-MM-DD', () => {
    for (const date of ['2024-02-29', '2000-02-29', '2023-12-31', '2023-01-01']) {
      expect(reasonOf(row({ acquisition_date: date })), date).toBe('ok');
    }
    for (const date of ['2023-02-29', '1900-02-29', '2023-02-30', '2021-04-31', '2023-13-01', '2023-00-10']) {
      expect(codesOf(row({ acquisition_date: date })), date).toEqual(['acquisition_date:invalid_date']);
    }
    for (const date of ['2023-2-5', '03/15/2023', '2023-03-15T00:00:00Z', '20230315']) {
      expect(reasonOf(row({ acquisition_date: date })), date).toBe('invalid_date');
    }
  });

  it('rejects unknown columns, extra cells included, as a schema violation', () => {
    const issues = issuesOf(row({ notes: '', _extra_1: 'x' }));
    expect(issues).toEqual([
      { path: 'notes', code: 'unknown_column', message: 'unknown column notes', value: '' },
      { path: '_extra_1', code: 'unknown_column', message: 'unknown column _extra_1', value: 'x' },
    ]);
    // Schema violation outranks everything else.
    expect(reasonOf(row({ notes: 'x', grant_code: 'XYZ-1', quantity: '-1' }))).toBe('schema_violation');
  });

  it('collects every issue of a record and files it under the highest-priority reason', () => {
    const fields = { ...without('location'), grant_code: 'XYZ-1', quantity: '1.5', acquisition_date: '2023-02-30' };
    expect(codesOf(fields).sort()).toEqual([
      'acquisition_date:invalid_date',
      'grant_code:invalid_prefix',
      'location:missing',
      'quantity:not_integer',
    ]);
    expect(reasonOf(fields)).toBe('invalid_grant_code');
    expect(reasonOf({ ...fields, grant_code: 'NSF-1' })).toBe('invalid_quantity');
    expect(reasonOf({ ...fields, grant_code: 'NSF-1', quantity: '1' })).toBe('invalid_date');
    expect(reasonOf({ ...fields, grant_code: '', quantity: '1', acquisition_date: '2023-01-01' })).toBe(
      'missing_field',
    );
  });

  it('reports a value that is not text (a programmatic caller) instead of crashing', () => {
    const fields = { ...row(), quantity: 5 } as unknown as Record<string, string>;
    expect(codesOf(fields)).toEqual(['quantity:invalid_type']);
  });
});

describe('inventory classification', () => {
  it('labels a valid record with its category class', () => {
    expect(inventoryProfile.classify(valid({ category: 'Centrifuge, refrigerated' }))).toEqual({
      hold: false,
      label: 'equipment',
    });
    expect(categoryClass('Chemical fume hood')).toBe('equipment');
    expect(categoryClass('Cell culture media')).toBe('biological');
    expect(categoryClass('Antibody')).toBe('biological');
    expect(categoryClass('Buffer solution')).toBe('chemical');
    expect(categoryClass('Reagent')).toBe('chemical');
    expect(categoryClass('Office supplies')).toBe('other');
  });

  it('accepts standard <BUILDING>-<ROOM> location codes only', () => {
    for (const location of ['CHEM-101', 'BIO-2B', 'PHYS-B12', 'LIFESCI-4410', 'AB-1', 'ABCDEFGH-12345']) {
      expect(LOCATION_CODE.test(location), location).toBe(true);
      expect(inventoryProfile.classify(valid({ location })).hold, location).toBe(false);
    }
    for (const location of [
      'chem-101',
      'CHEM 101',
      'Room 101',
      'C-101',
      'ABCDEFGHI-1',
      'CHEM-123456',
      'CHEM-',
      'CHEM-1-2',
    ]) {
      expect(inventoryProfile.classify(valid({ location })), location).toEqual({
        hold: true,
        reasonCode: 'nonstandard_location',
        issues: [expect.objectContaining({ path: 'location', code: 'nonstandard_location', value: location })],
      });
    }
  });

  it('holds a quantity above 10,000 as an outlier', () => {
    expect(inventoryProfile.classify(valid({ quantity: 10_000 })).hold).toBe(false);
    expect(inventoryProfile.classify(valid({ quantity: 10_001 }))).toEqual({
      hold: true,
      reasonCode: 'quantity_outlier',
      issues: [expect.objectContaining({ path: 'quantity', code: 'quantity_outlier', value: 10_001 })],
    });
  });

  it('reports both hold issues, filed under the location', () => {
    const held = inventoryProfile.classify(valid({ quantity: 50_000, location: 'Room 1' }));
    expect(held).toMatchObject({ hold: true, reasonCode: 'nonstandard_location' });
    expect(held.hold && held.issues.map((i) => i.code)).toEqual(['nonstandard_location', 'quantity_outlier']);
  });
});

describe('inventory keys', () => {
  it('derives the idempotency key from the asset and the upper-cased grant code only', () => {
    const record = valid({ asset_id: 'CH-0000001', grant_code: 'NIH-R01-GM123456' });
    // printf 'inventory\x1fCH-0000001\x1fNIH-R01-GM123456' | sha256sum
    expect(inventoryProfile.idempotencyKey(record)).toBe(
      '2922cfdc93e9daa62bdd7377b3bd41f4bb9c70f371988806e06bc82f34984ba0',
    );
    expect(inventoryProfile.businessKey(record)).toBe('CH-0000001/NIH-R01-GM123456');

    const lower = inventoryProfile.validate(row({ grant_code: 'NIH-r01-gm123456', quantity: '99', location: 'X' }));
    expect(lower.ok && inventoryProfile.idempotencyKey(lower.record)).toBe(inventoryProfile.idempotencyKey(record));
    expect(inventoryProfile.idempotencyKey(valid({ asset_id: 'CH-0000002' }))).not.toBe(
      inventoryProfile.idempotencyKey(record),
    );
  });
});

describe('inventory profile and registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-inventory-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is registered under its id', () => {
    expect(getProfile('inventory')).toBe(inventoryProfile);
    expect(profiles.inventory).toBe(inventoryProfile);
    expect(() => getProfile('nope')).toThrow('unknown profile "nope"; known profiles: inventory, ');
    expect(() => getProfile('toString')).toThrow('unknown profile');
  });

  it('lists its reason codes, validation reasons first in priority order', () => {
    expect(INVENTORY_REASON_CODES).toEqual([
      'schema_violation',
      'invalid_grant_code',
      'invalid_quantity',
      'invalid_date',
      'missing_field',
      'nonstandard_location',
      'quantity_outlier',
    ]);
  });

  it('plans and reads a CSV manifest through the profile contract, layout stored as JSON', async () => {
    const file = join(dir, 'manifest.csv');
    writeFileSync(
      file,
      'asset_id,grant_code,category,quantity,location,acquisition_date\n' +
        'CH-1,NIH-r01-ab1,"Centrifuge, refrigerated",2,CHEM-101,2023-03-15\n' +
        'CH-2,XYZ-1,Reagent,1,BIO-2B,2023-03-15\n',
    );
    let layout: InputLayout | undefined;
    const chunks: ChunkPlan[] = [];
    for await (const item of inventoryProfile.plan(file, 'manifest.csv', { maxRecords: 1, maxBytes: 1000 })) {
      if ('layout' in item) layout = JSON.parse(JSON.stringify(item.layout)) as InputLayout;
      else chunks.push(item);
    }
    expect(chunks).toHaveLength(2);
    const [first] = await inventoryProfile.readChunk(file, 'manifest.csv', layout!, chunks[0]!);
    expect(first?.location).toEqual({ file: 'manifest.csv', line: 2, byteOffset: 64 });
    const outcome = inventoryProfile.validate(first!.fields);
    expect(outcome.ok && inventoryProfile.businessKey(outcome.record)).toBe('CH-1/NIH-R01-AB1');
    const [second] = await inventoryProfile.readChunk(file, 'manifest.csv', layout!, chunks[1]!);
    expect(inventoryProfile.validate(second!.fields)).toMatchObject({ ok: false, reasonCode: 'invalid_grant_code' });
  });
});
