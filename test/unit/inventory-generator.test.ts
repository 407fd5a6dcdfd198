import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { committedKeyHash } from '../../src/profiles/generator-kit.ts';
import { generateInventoryManifest } from '../../src/profiles/inventory/generator.ts';
import type { ExpectedOutcome, InventoryDefectRates } from '../../src/profiles/inventory/generator.ts';
import { INVENTORY_REASON_CODES, inventoryProfile } from '../../src/profiles/inventory/index.ts';
import type { ChunkPlan, InputLayout } from '../../src/profiles/types.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-generator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const everyDefect: InventoryDefectRates = {
  invalid_grant_code: 0.03,
  invalid_quantity: 0.03,
  invalid_date: 0.03,
  missing_field: 0.03,
  nonstandard_location: 0.03,
  quantity_outlier: 0.03,
  duplicate: 0.05,
};

type Counts = Omit<ExpectedOutcome, 'profile' | 'seed'>;

/**
 * The whole pipeline in memory: plan, read, validate, classify, and a commit where the first record of a key wins.
 * Chunks are committed in the given order, as concurrent chunk workflows might.
 */
async function runPipeline(file: string, order: 'forward' | 'reverse' = 'forward'): Promise<Counts> {
  let layout: InputLayout | undefined;
  const chunks: ChunkPlan[] = [];
  for await (const item of inventoryProfile.plan(file, 'manifest.csv', { maxRecords: 250, maxBytes: 64 << 10 })) {
    if ('layout' in item) layout = item.layout;
    else chunks.push(item);
  }
  if (order === 'reverse') chunks.reverse();
  const counts: Counts = { records: 0, committed: 0, duplicates: 0, quarantined: 0, byReason: {} };
  const quarantine = (reason: string): void => {
    counts.quarantined++;
    counts.byReason[reason] = (counts.byReason[reason] ?? 0) + 1;
  };
  const ledger = new Map<string, { businessKey: string; quantity: number }>();
  for (const chunk of chunks) {
    for (const source of await inventoryProfile.readChunk(file, 'manifest.csv', layout!, chunk)) {
      counts.records++;
      const outcome = inventoryProfile.validate(source.fields);
      if (!outcome.ok) {
        quarantine(outcome.reasonCode);
        continue;
      }
      const classification = inventoryProfile.classify(outcome.record);
      if (classification.hold) {
        quarantine(classification.reasonCode);
        continue;
      }
      const key = inventoryProfile.idempotencyKey(outcome.record);
      if (ledger.has(key)) counts.duplicates++;
      else {
        ledger.set(key, {
          businessKey: inventoryProfile.businessKey(outcome.record),
          quantity: outcome.record.quantity,
        });
        counts.committed++;
      }
    }
  }
  // The content oracle: what the ledger holds, whichever chunk committed a key first.
  const rows = [...ledger.values()];
  counts.committedSum = { field: 'quantity', value: String(rows.reduce((sum, r) => sum + r.quantity, 0)) };
  counts.committedKeyHash = committedKeyHash(rows.map((r) => r.businessKey));
  return counts;
}

const countsOf = ({ profile: _profile, seed: _seed, ...counts }: ExpectedOutcome): Counts => counts;

describe('generateInventoryManifest', () => {
  it('gives files of different seeds no asset id, so no idempotency key, in common (the ledger is shared)', async () => {
    const assetsOf = async (seed: number): Promise<Set<string>> => {
      const file = join(dir, `keys-${seed}.csv`);
      await generateInventoryManifest(file, { records: 20_000, seed, defects: { duplicate: 0.02 } });
      const keys = new Set<string>();
      // Record lines start with the asset id (quoted categories may span lines; those continuations do not match).
      for (const m of readFileSync(file, 'utf8').matchAll(/^([A-Z]{2}-[0-9A-Z]+),/gm)) {
        keys.add(m[1]!);
      }
      return keys;
    };
    const [a, b] = [await assetsOf(21), await assetsOf(22)];
    expect(a.size).toBeGreaterThan(19_000);
    expect([...a].filter((k) => b.has(k))).toEqual([]);
  });

  it('predicts exactly what the pipeline does with every kind of defect, whichever chunk commits first', async () => {
    const file = join(dir, 'defects.csv');
    const expected = await generateInventoryManifest(file, { records: 20_000, seed: 42, defects: everyDefect });

    expect(expected.records).toBe(20_000);
    // Every defect was planted in a meaningful number, so the comparison below checks each path.
    for (const reason of INVENTORY_REASON_CODES.filter((r) => r !== 'schema_violation')) {
      expect(expected.byReason[reason], reason).toBeGreaterThan(400);
    }
    expect(expected.duplicates).toBeGreaterThan(800);
    expect(expected.committed + expected.duplicates + expected.quarantined).toBe(expected.records);

    expect(await runPipeline(file)).toEqual(countsOf(expected));
    expect(await runPipeline(file, 'reverse')).toEqual(countsOf(expected));
  });

  it('makes every record a schema violation when it adds an unknown column', async () => {
    const file = join(dir, 'extra.csv');
    const expected = await generateInventoryManifest(file, {
      records: 2000,
      seed: 5,
      defects: everyDefect,
      extraColumn: true,
    });
    expect(readFileSync(file, 'utf8').split('\n', 1)[0]).toBe(
      'asset_id,grant_code,category,quantity,location,acquisition_date,notes',
    );
    expect(countsOf(expected)).toMatchObject({
      records: 2000,
      committed: 0,
      duplicates: 0,
      quarantined: 2000,
      byReason: { schema_violation: 2000 },
      committedSum: { field: 'quantity', value: '0' },
    });
    expect(await runPipeline(file)).toEqual(countsOf(expected));
  });

  it('writes realistic values: quoted commas and line breaks, lower-case grant suffixes', async () => {
    const file = join(dir, 'clean.csv');
    const expected = await generateInventoryManifest(file, { records: 3000, seed: 9 });
    expect(expected).toMatchObject({ committed: 3000, duplicates: 0, quarantined: 0, byReason: {}, seed: 9 });
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(',"Centrifuge, refrigerated",');
    expect(text).toContain(',"Incubator\n(CO2, humidified)",');
    expect(text).toMatch(/,NIH-[a-z0-9]+-[a-z]{2}\d+,/);
    expect(text).toMatch(/,NSF-\d+,/);
    expect(await runPipeline(file)).toEqual(countsOf(expected));
  });

  it('is deterministic for a seed', async () => {
    const generate = async (seed: number): Promise<string> => {
      const file = join(dir, `seed-${seed}-${Math.random()}.csv`);
      await generateInventoryManifest(file, { records: 500, seed, defects: everyDefect });
      return readFileSync(file, 'utf8');
    };
    const [a, b, c] = await Promise.all([generate(3), generate(3), generate(4)]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it('writes to a slow stream, waiting for it to drain, and leaves it open', async () => {
    const received: Buffer[] = [];
    let drains = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        setImmediate(callback);
      },
    });
    slow.on('drain', () => drains++);
    const expected = await generateInventoryManifest(slow, { records: 20_000, seed: 8, defects: everyDefect });
    expect(drains).toBeGreaterThan(0);
    expect(slow.writableEnded).toBe(false);
    slow.end();

    const file = join(dir, 'same.csv');
    expect(await generateInventoryManifest(file, { records: 20_000, seed: 8, defects: everyDefect })).toEqual(expected);
    expect(Buffer.concat(received).equals(readFileSync(file))).toBe(true);
  });

  it('rejects defect rates that are not fractions adding up to at most 1', async () => {
    const out = join(dir, 'never.csv');
    await expect(generateInventoryManifest(out, { records: 1, defects: { duplicate: 1.5 } })).rejects.toThrow(
      RangeError,
    );
    await expect(
      generateInventoryManifest(out, { records: 1, defects: { invalid_date: 0.6, missing_field: 0.6 } }),
    ).rejects.toThrow('add up to more than 1');
  });
});
