/**
 * The rebate profile without the stack: decimal accruals, the schema, the keys, the classification rules at their
 * thresholds, the promotion master, each reader on the committed samples, malformed input of each format, and the
 * generator's oracle against actually reading, validating and classifying what it wrote.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeXlsx } from '../../src/formats/xlsx-write.ts';
import { getProfile, referenceKinds } from '../../src/profiles/index.ts';
import type { ChunkPlan, InputLayout, InputOptions, ReferenceLookup, SourceRecord } from '../../src/profiles/types.ts';
import { InputError } from '../../src/profiles/types.ts';
import {
  computeAccrual,
  formatCents,
  formatRate,
  parseRate,
  parseTiers,
  toCents,
} from '../../src/profiles/rebate/accrual.ts';
import type { Tier } from '../../src/profiles/rebate/accrual.ts';
import {
  assessClaim,
  classifyRebate,
  periodInWindow,
  prepareRebateClassify,
  rebateOptionsSchema,
} from '../../src/profiles/rebate/classify.ts';
import type { RebateOptions, RebatePrepared } from '../../src/profiles/rebate/classify.ts';
import {
  PROMOTION_MASTER,
  REBATE_DEFECTS,
  generateRebateClaims,
  promotionMasterCsv,
  writePromotionMaster,
} from '../../src/profiles/rebate/generator.ts';
import type { RebateExpectedOutcome, RebateFormat } from '../../src/profiles/rebate/generator.ts';
import {
  rebateBusinessKey,
  rebateIdempotencyKey,
  rebateLineHash,
  rebateProfile,
} from '../../src/profiles/rebate/index.ts';
import { canonicalColumn, excelNumberText } from '../../src/profiles/rebate/readers.ts';
import { readPromotionMaster, toPromotion } from '../../src/profiles/rebate/reference.ts';
import type { Promotion } from '../../src/profiles/rebate/reference.ts';
import { validateRebateLine } from '../../src/profiles/rebate/schema.ts';
import type { RebateClaimLine } from '../../src/profiles/rebate/schema.ts';

const SAMPLES = fileURLToPath(new URL('../../samples/rebate/', import.meta.url));
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rebate-profile-'));
});

/** A copy of a file in a fresh folder (staging writes next to its input, as it does next to the blob). */
async function fresh(file: string, name = path.basename(file)): Promise<string> {
  const target = path.join(await mkdtemp(path.join(dir, 'in-')), name);
  await copyFile(file, target);
  return target;
}

/** Plans a file and reads every chunk back, as the activities do. */
async function readAll(
  file: string,
  input: InputOptions = {},
  maxRecords = 100,
): Promise<{ layout: InputLayout; chunks: ChunkPlan[]; records: SourceRecord[] }> {
  const name = path.basename(file);
  let layout: InputLayout | undefined;
  const chunks: ChunkPlan[] = [];
  for await (const item of rebateProfile.plan(file, name, { maxRecords, maxBytes: 45 << 20 }, input)) {
    if ('layout' in item) layout = item.layout;
    else chunks.push(item);
  }
  const records: SourceRecord[] = [];
  for (const chunk of chunks) records.push(...(await rebateProfile.readChunk(file, name, layout!, chunk)));
  return { layout: layout!, chunks, records };
}

/** An in-memory reference lookup over a promotion master file, counting its queries. */
async function masterLookup(file: string): Promise<ReferenceLookup & { queries: number }> {
  const entries = new Map<string, unknown>();
  for await (const e of readPromotionMaster(file, path.basename(file))) entries.set(e.key, e.data);
  const lookup = {
    queries: 0,
    async reference(kind: string, keys: readonly string[]) {
      lookup.queries++;
      expect(kind).toBe('promotions');
      return new Map(keys.filter((k) => entries.has(k)).map((k) => [k, entries.get(k)]));
    },
    async ledger() {
      return new Map<string, unknown>();
    },
  };
  return lookup;
}

const context = (options: Record<string, unknown> = {}) => ({ options, routing: {} });

const line = (overrides: Partial<RebateClaimLine> = {}): RebateClaimLine => ({
  vendor_id: 'V-1001',
  claim_period: '2025-03',
  sku: 'SKU-10001',
  quantity: 100,
  amount: '1000.00',
  promotion_id: 'PR-T',
  ...overrides,
});

const promotion = (overrides: Partial<Promotion> = {}): Promotion => ({
  promotion_id: 'PR-T',
  vendor_id: 'V-1001',
  start_date: '2025-01-10',
  end_date: '2025-03-20',
  eligibleSkus: new Set(['SKU-10001', 'SKU-10002']),
  tiers: [
    { minQuantity: 0, rate: '0.02' },
    { minQuantity: 1000, rate: '0.035' },
    { minQuantity: 5000, rate: '0.05' },
  ],
  maxCentsPerUnit: 1250n,
  ...overrides,
});

describe('decimal money and tiered accruals', () => {
  it('parses rates and amounts exactly, or not at all', () => {
    expect(parseRate('0.035')).toBe(35_000n);
    expect(parseRate('1')).toBe(1_000_000n);
    expect(parseRate('0.000001')).toBe(1n);
    for (const bad of ['1.5', '0.0000001', '-0.1', '.5', '5%', '']) expect(parseRate(bad)).toBeUndefined();
    expect(formatRate(35_000n)).toBe('0.035');
    expect(formatRate(1_000_000n)).toBe('1');
    expect(toCents('12.5')).toBe(1250n);
    expect(toCents('012.340')).toBe(1234n);
    expect(toCents('7')).toBe(700n);
    for (const bad of ['12.345', '-1', '1e3', '1,000', '$1', '12.']) expect(toCents(bad)).toBeUndefined();
    expect(formatCents(5n)).toBe('0.05');
    expect(formatCents(123456789012345n)).toBe('1234567890123.45');
  });

  it('reads a tier schedule and says what is wrong with a bad one', () => {
    expect(parseTiers('0:0.02;1000:0.035;5000:0.05')).toEqual({
      tiers: [
        { minQuantity: 0, rate: '0.02' },
        { minQuantity: 1000, rate: '0.035' },
        { minQuantity: 5000, rate: '0.05' },
      ],
    });
    expect(parseTiers(' 0 : 0.0200 ')).toEqual({ error: expect.stringMatching(/not <min_quantity>:<rate>/) });
    expect(parseTiers('0:0.0200')).toEqual({ tiers: [{ minQuantity: 0, rate: '0.02' }] });
    expect(parseTiers('10:0.02')).toEqual({ error: 'the first tier must start at quantity 0' });
    expect(parseTiers('0:0.02;500:0.03;500:0.04')).toEqual({ error: expect.stringMatching(/must increase/) });
    expect(parseTiers('0:2')).toEqual({ error: expect.stringMatching(/from 0 to 1/) });
  });

  const tiers: Tier[] = [
    { minQuantity: 0, rate: '0.02' },
    { minQuantity: 1000, rate: '0.035' },
    { minQuantity: 5000, rate: '0.05' },
  ];

  it('all units: a line accrues at the highest tier its quantity reaches (thresholds inclusive)', () => {
    expect(computeAccrual(100_000n, 999, tiers)).toMatchObject({ tier: 1, rate: '0.02', amount: '20.00' });
    expect(computeAccrual(100_000n, 1000, tiers)).toMatchObject({ tier: 2, rate: '0.035', amount: '35.00' });
    expect(computeAccrual(100_000n, 4999, tiers)).toMatchObject({ tier: 2, amount: '35.00' });
    expect(computeAccrual(100_000n, 5000, tiers)).toMatchObject({ tier: 3, rate: '0.05', amount: '50.00' });
  });

  it('rounds half up to the cent once, exactly, whatever the size', () => {
    const one: Tier[] = [{ minQuantity: 0, rate: '0.01' }];
    expect(computeAccrual(50n, 1, one).amount).toBe('0.01'); // 0.005 -> 0.01
    expect(computeAccrual(49n, 1, one).amount).toBe('0.00'); // 0.0049 -> 0.00
    expect(computeAccrual(4_500_075n, 3000, [{ minQuantity: 0, rate: '0.03' }]).amount).toBe('1350.02');
    // 10.35 x 10 % = 1.035 exactly, which rounds up to 1.04; in doubles it is 1.03499999... and rounds down.
    expect(computeAccrual(1035n, 1, [{ minQuantity: 0, rate: '0.1' }]).amount).toBe('1.04');
    expect(Math.round(10.35 * 0.1 * 100) / 100).toBe(1.03);
    // 9,999,999,999.99 x 0.123457: far beyond a double's exact cents.
    expect(computeAccrual(999_999_999_999n, 1, [{ minQuantity: 0, rate: '0.123457' }]).amount).toBe('1234570000.00');
    expect(computeAccrual(999_999_999_999n, 1, [{ minQuantity: 0, rate: '0.000001' }]).amount).toBe('10000.00');
  });

  it('incremental: each tier rate applies to the units within the tier', () => {
    // 1,200 units for 1,200.00: 1,000 x 1.00 x 2 % + 200 x 1.00 x 3.5 % = 20.00 + 7.00.
    expect(computeAccrual(120_000n, 1200, tiers, 'incremental')).toMatchObject({ tier: 2, amount: '27.00' });
    // 6,000 units for 6,000.00: 20.00 + 4,000 x 3.5 % (140.00) + 1,000 x 5 % (50.00).
    expect(computeAccrual(600_000n, 6000, tiers, 'incremental')).toMatchObject({ tier: 3, amount: '210.00' });
    expect(computeAccrual(100_000n, 999, tiers, 'incremental').amount).toBe('20.00');
    // One third of the units at each rate of a 3-unit line: 0.10 x (0.02 + 0.02 + 0.02) / 3, rounded once.
    expect(computeAccrual(10n, 3, tiers, 'incremental').amount).toBe('0.00');
  });
});

describe('schema', () => {
  const fields = {
    vendor_id: ' V-1001 ',
    claim_period: '2025-03',
    sku: 'SKU-10001',
    quantity: ' 120',
    amount: '1234.5',
    promotion_id: 'PR-25-101',
    claim_date: '2025-03-14',
    line_ref: 'INV-1',
  };

  it('gives the canonical line: trimmed, quantity a number, amount with 2 decimals', () => {
    expect(validateRebateLine(fields)).toEqual({
      ok: true,
      record: {
        vendor_id: 'V-1001',
        claim_period: '2025-03',
        sku: 'SKU-10001',
        quantity: 120,
        amount: '1234.50',
        promotion_id: 'PR-25-101',
        claim_date: '2025-03-14',
        line_ref: 'INV-1',
      },
    });
  });

  it('leaves blank optional fields out, and takes numbers from an amendment', () => {
    const v = validateRebateLine({ ...fields, claim_date: ' ', line_ref: '', quantity: 7, amount: 70.1 });
    expect(v).toEqual({
      ok: true,
      record: {
        vendor_id: 'V-1001',
        claim_period: '2025-03',
        sku: 'SKU-10001',
        quantity: 7,
        amount: '70.10',
        promotion_id: 'PR-25-101',
      },
    });
    const { claim_date: _d, line_ref: _l, ...required } = fields;
    expect(validateRebateLine(required).ok).toBe(true);
  });

  const reject = (patch: Record<string, unknown>, remove: string[] = []) => {
    const source: Record<string, unknown> = { ...fields, ...patch };
    for (const key of remove) delete source[key];
    const v = validateRebateLine(source);
    if (v.ok) throw new Error(`expected ${JSON.stringify(patch)} to be rejected`);
    return v;
  };

  it.each([
    ['0', 'not_positive'],
    ['-5', 'not_positive'],
    ['1.5', 'not_integer'],
    ['1e3', 'not_integer'],
    ['+4', 'not_integer'],
    ['1,200', 'not_integer'],
    ['12 units', 'not_integer'],
    ['1000000001', 'too_large'],
  ])('quantity %j is invalid_quantity (%s)', (quantity, code) => {
    const v = reject({ quantity });
    expect(v.reasonCode).toBe('invalid_quantity');
    expect(v.issues).toEqual([{ path: 'quantity', code, message: expect.any(String), value: quantity }]);
  });

  it('accepts the quantity limit itself', () => {
    expect(validateRebateLine({ ...fields, quantity: '1000000000' }).ok).toBe(true);
  });

  it.each([
    ['12.345', 'too_many_decimals'],
    ['-10.00', 'not_positive'],
    ['0.00', 'not_positive'],
    ['1,234.50', 'not_decimal'],
    ['$12.00', 'not_decimal'],
    ['12.50 USD', 'not_decimal'],
    ['1e4', 'not_decimal'],
    ['10000000000.00', 'too_large'],
  ])('amount %j is invalid_amount (%s)', (amount, code) => {
    const v = reject({ amount });
    expect(v.reasonCode).toBe('invalid_amount');
    expect(v.issues).toEqual([{ path: 'amount', code, message: expect.any(String), value: amount }]);
  });

  it('accepts the largest amount and trailing zeros beyond the cents', () => {
    expect(validateRebateLine({ ...fields, amount: '9999999999.99' }).ok).toBe(true);
    expect(validateRebateLine({ ...fields, amount: '12.3400' })).toMatchObject({ record: { amount: '12.34' } });
  });

  it.each(['2025-3', '2025-13', '2025-00', '03/2025', '2025-03-01'])('claim period %j is invalid_period', (p) => {
    expect(reject({ claim_period: p, claim_date: '' }).issues).toEqual([
      { path: 'claim_period', code: 'invalid_period', message: expect.any(String), value: p },
    ]);
  });

  it('checks the claim date is a real date in the claim period', () => {
    expect(reject({ claim_date: '2025-02-30' })).toMatchObject({
      reasonCode: 'invalid_date',
      issues: [{ path: 'claim_date', code: 'invalid_date' }],
    });
    expect(reject({ claim_date: '2025-04-01' })).toMatchObject({
      reasonCode: 'invalid_date',
      issues: [{ path: 'claim_date', code: 'date_outside_period', value: '2025-04-01' }],
    });
  });

  it('names missing and empty fields, unknown columns and bad identifiers', () => {
    expect(reject({}, ['amount'])).toMatchObject({
      reasonCode: 'missing_field',
      issues: [{ path: 'amount', code: 'missing', message: 'amount is missing' }],
    });
    expect(reject({ sku: '  ' })).toMatchObject({
      reasonCode: 'missing_field',
      issues: [{ path: 'sku', code: 'empty' }],
    });
    expect(reject({ notes: 'x', _extra_1: 'y' })).toMatchObject({
      reasonCode: 'schema_violation',
      issues: [
        { path: 'notes', code: 'unknown_column', value: 'x' },
        { path: '_extra_1', code: 'unknown_column', value: 'y' },
      ],
    });
    expect(reject({ vendor_id: 'V\u001f1' })).toMatchObject({
      reasonCode: 'invalid_identifier',
      issues: [{ path: 'vendor_id', code: 'bad_identifier' }],
    });
    expect(reject({ line_ref: 'x'.repeat(65) }).reasonCode).toBe('invalid_identifier');
  });

  it('reports every issue of a line and files it under the highest-priority reason', () => {
    const v = reject({ quantity: '0', amount: 'abc', claim_date: '2025-02-30', sku: '' });
    expect(v.reasonCode).toBe('missing_field');
    expect(v.issues.map((i) => `${i.path}:${i.code}`)).toEqual([
      'sku:empty',
      'quantity:not_positive',
      'amount:not_decimal',
      'claim_date:invalid_date',
    ]);
  });
});

describe('keys', () => {
  const base = line({ quantity: 120, amount: '1234.50', line_ref: 'INV-1', claim_date: '2025-03-14' });

  it('idempotency key: sha256 of rebate, vendor, period and the line hash, joined by unit separators', () => {
    const lineHash = sha256(['SKU-10001', '120', '1234.50', 'PR-T', 'INV-1'].join('\u001f'));
    expect(rebateLineHash(base)).toBe(lineHash);
    expect(rebateIdempotencyKey(base)).toBe(sha256(['rebate', 'V-1001', '2025-03', lineHash].join('\u001f')));
    expect(rebateIdempotencyKey(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the same however the line was spelt, and whatever its claim date', () => {
    const a = validateRebateLine({ ...base, quantity: ' 120 ', amount: '1234.5' });
    const b = validateRebateLine({ ...base, quantity: 120, amount: 1234.5, claim_date: '2025-03-31' });
    if (!a.ok || !b.ok) throw new Error('valid lines expected');
    expect(rebateIdempotencyKey(a.record)).toBe(rebateIdempotencyKey(base));
    expect(rebateIdempotencyKey(b.record)).toBe(rebateIdempotencyKey(base));
  });

  it('differs for any other vendor, period or line content', () => {
    const key = rebateIdempotencyKey(base);
    for (const patch of [
      { vendor_id: 'V-1002' },
      { claim_period: '2025-04' },
      { sku: 'SKU-10002' },
      { quantity: 121 },
      { amount: '1234.51' },
      { promotion_id: 'PR-U' },
      { line_ref: 'INV-2' },
      { line_ref: undefined },
    ]) {
      expect(rebateIdempotencyKey({ ...base, ...patch }), JSON.stringify(patch)).not.toBe(key);
    }
  });

  it('business key: vendor/period/line_ref, or the line hash prefix without a reference', () => {
    expect(rebateBusinessKey(base)).toBe('V-1001/2025-03/INV-1');
    const { line_ref: _r, ...noRef } = base;
    expect(rebateBusinessKey(noRef)).toBe(`V-1001/2025-03/#${rebateLineHash(noRef).slice(0, 12)}`);
  });
});

describe('classification against the promotion master', () => {
  const judge = (l: Partial<RebateClaimLine>, p: Partial<Promotion> = {}, options?: RebateOptions) =>
    assessClaim(line(l), promotion(p), options);
  const reasonOf = (a: ReturnType<typeof judge>) => (a.hold ? a.reasonCode : 'accrued');

  it('holds an unknown promotion, and another vendor’s promotion as unknown', () => {
    expect(assessClaim(line(), undefined)).toEqual({
      hold: true,
      reasonCode: 'unknown_promotion',
      issues: [{ path: 'promotion_id', code: 'unknown_promotion', message: expect.any(String), value: 'PR-T' }],
    });
    expect(judge({ vendor_id: 'V-1002' })).toMatchObject({
      hold: true,
      reasonCode: 'unknown_promotion',
      issues: [{ path: 'promotion_id', code: 'other_vendor' }],
    });
  });

  it('window, overlap rule: a month sharing a day with the window is inside', () => {
    // Window 2025-01-10 .. 2025-03-20.
    expect(reasonOf(judge({ claim_period: '2024-12' }))).toBe('outside_promotion_window');
    expect(reasonOf(judge({ claim_period: '2025-01' }))).toBe('accrued');
    expect(reasonOf(judge({ claim_period: '2025-03' }))).toBe('accrued');
    expect(reasonOf(judge({ claim_period: '2025-04' }))).toBe('outside_promotion_window');
  });

  it('window, within rule: only whole months inside the window', () => {
    const within: RebateOptions = { tier_basis: 'all_units', window_rule: 'within' };
    expect(reasonOf(judge({ claim_period: '2025-01' }, {}, within))).toBe('outside_promotion_window');
    expect(reasonOf(judge({ claim_period: '2025-02' }, {}, within))).toBe('accrued');
    expect(reasonOf(judge({ claim_period: '2025-03' }, {}, within))).toBe('outside_promotion_window');
    expect(periodInWindow('2024-02', { start_date: '2024-02-01', end_date: '2024-02-29' }, 'within')).toBe(true);
    expect(periodInWindow('2023-02', { start_date: '2023-02-01', end_date: '2023-02-28' }, 'within')).toBe(true);
  });

  it('window: a claim date must lie inside the window, its first and last days included', () => {
    expect(reasonOf(judge({ claim_period: '2025-01', claim_date: '2025-01-09' }))).toBe('outside_promotion_window');
    expect(reasonOf(judge({ claim_period: '2025-01', claim_date: '2025-01-10' }))).toBe('accrued');
    expect(reasonOf(judge({ claim_period: '2025-03', claim_date: '2025-03-20' }))).toBe('accrued');
    expect(judge({ claim_period: '2025-03', claim_date: '2025-03-21' })).toMatchObject({
      reasonCode: 'outside_promotion_window',
      issues: [{ path: 'claim_date', code: 'outside_promotion_window', value: '2025-03-21' }],
    });
  });

  it('holds an SKU the promotion does not list; `*` takes every SKU', () => {
    expect(judge({ sku: 'SKU-10003' })).toMatchObject({
      reasonCode: 'ineligible_sku',
      issues: [{ path: 'sku', code: 'ineligible_sku', value: 'SKU-10003' }],
    });
    expect(reasonOf(judge({ sku: 'SKU-10003' }, { eligibleSkus: undefined }))).toBe('accrued');
  });

  it('over_claim above quantity x max per unit, not at it; no cap, no check', () => {
    // 100 units x 12.50 = 1250.00 allowed.
    expect(reasonOf(judge({ amount: '1250.00' }))).toBe('accrued');
    expect(judge({ amount: '1250.01' })).toMatchObject({
      reasonCode: 'over_claim',
      issues: [{ path: 'amount', code: 'over_claim', message: expect.stringContaining('1250.00'), value: '1250.01' }],
    });
    expect(reasonOf(judge({ amount: '99999.00' }, { maxCentsPerUnit: undefined }))).toBe('accrued');
  });

  it('reports every broken rule, filed under the first in priority', () => {
    const a = judge({ claim_period: '2025-05', sku: 'SKU-10009', amount: '5000.00' });
    expect(a).toMatchObject({ hold: true, reasonCode: 'outside_promotion_window' });
    if (!a.hold) throw new Error('held expected');
    expect(a.issues.map((i) => i.code)).toEqual(['outside_promotion_window', 'ineligible_sku', 'over_claim']);
  });

  it('accrues at the tier, labelled with it, at the tier thresholds', async () => {
    const prepared: RebatePrepared = {
      promotions: new Map([['PR-T', promotion({ maxCentsPerUnit: undefined })]]),
      options: { tier_basis: 'all_units', window_rule: 'overlap' },
    };
    const label = (quantity: number) => classifyRebate(line({ quantity }), prepared);
    expect(label(999)).toEqual({ hold: false, label: 'tier_1' });
    expect(label(1000)).toEqual({ hold: false, label: 'tier_2' });
    expect(label(4999)).toEqual({ hold: false, label: 'tier_2' });
    expect(label(5000)).toEqual({ hold: false, label: 'tier_3' });
    expect(judge({ quantity: 1000, amount: '1000.00' })).toMatchObject({
      hold: false,
      accrual: { tier: 2, rate: '0.035', amount: '35.00', cents: 3500n },
    });
    expect(() => classifyRebate(line(), undefined)).toThrow(/needs prepareClassify/);
  });

  it('prepareClassify loads the chunk’s promotions in one query and checks the options', async () => {
    const lookup = await masterLookup(path.join(SAMPLES, 'promotions.csv'));
    const prepared = await prepareRebateClassify(
      [
        line({ promotion_id: 'PR-25-101' }),
        line({ promotion_id: 'PR-25-101' }),
        line({ promotion_id: 'PR-25-601' }),
        line({ promotion_id: 'PR-NOPE' }),
      ],
      lookup,
      context({ tier_basis: 'incremental' }),
    );
    expect(lookup.queries).toBe(1);
    expect([...prepared.promotions.keys()].sort()).toEqual(['PR-25-101', 'PR-25-601']);
    expect(prepared.options).toEqual({ tier_basis: 'incremental', window_rule: 'overlap' });
    expect(prepared.promotions.get('PR-25-101')).toMatchObject({
      vendor_id: 'V-1001',
      maxCentsPerUnit: 1400n,
      tiers: [
        { minQuantity: 0, rate: '0.025' },
        { minQuantity: 2000, rate: '0.04' },
      ],
    });
  });

  it('options are strict, with defaults', () => {
    expect(rebateOptionsSchema.parse({})).toEqual({ tier_basis: 'all_units', window_rule: 'overlap' });
    expect(rebateOptionsSchema.safeParse({ tier_basis: 'marginal' }).success).toBe(false);
    expect(rebateOptionsSchema.safeParse({ tolerance: 1 }).success).toBe(false);
    expect(rebateProfile.defaultConfig.profile_options).toEqual(rebateOptionsSchema.parse({}));
  });

  it('a damaged stored promotion is an error naming it', () => {
    expect(() => toPromotion('PR-X', { promotion_id: 'PR-X' })).toThrow(/PR-X .*damaged/);
  });
});

describe('profile declaration', () => {
  it('is registered, reads csv and xlsx, runs accruals on the compute queue and commits on the commit queue', () => {
    expect(getProfile('rebate')).toBe(rebateProfile);
    expect(rebateProfile.formats).toEqual(['csv', 'xlsx']);
    expect(rebateProfile.defaultConfig.task_queues).toEqual({ classify: 'sluice-compute', commit: 'sluice-commit' });
    expect(referenceKinds().get('promotions')).toMatchObject({ profile: 'rebate' });
  });
});

describe('promotion master', () => {
  it('the sample master is the generator’s, and reads into one entry per promotion', async () => {
    expect(await readFile(path.join(SAMPLES, 'promotions.csv'), 'utf8')).toBe(promotionMasterCsv());
    const entries = [];
    for await (const e of readPromotionMaster(path.join(SAMPLES, 'promotions.csv'), 'promotions.csv')) entries.push(e);
    expect(entries.map((e) => e.key)).toEqual(PROMOTION_MASTER.map((p) => p.id));
    expect(entries[2]).toEqual({
      key: 'PR-25-102',
      data: {
        promotion_id: 'PR-25-102',
        vendor_id: 'V-1001',
        start_date: '2025-07-01',
        end_date: '2025-12-31',
        eligible_skus: '*',
        tiers: '0:0.015;500:0.02;3000:0.03',
        max_amount_per_unit: null,
      },
    });
    expect(entries[0]!.data).toMatchObject({ eligible_skus: ['SKU-10001', 'SKU-10002', 'SKU-10003', 'SKU-10004'] });
  });

  const HEADER = 'promotion_id,vendor_id,start_date,end_date,eligible_skus,tiers,max_amount_per_unit';
  const readMaster = async (text: string) => {
    const file = path.join(await mkdtemp(path.join(dir, 'master-')), 'm.csv');
    await writeFile(file, text);
    const out = [];
    for await (const e of readPromotionMaster(file, 'm.csv')) out.push(e);
    return out;
  };

  it('ignores description and notes columns and accepts a blank cap', async () => {
    const entries = await readMaster(`description,${HEADER}\nSpring,P1,V1,2025-01-01,2025-01-31,A;B,0:0.1,\n`);
    expect(entries).toEqual([
      {
        key: 'P1',
        data: {
          promotion_id: 'P1',
          vendor_id: 'V1',
          start_date: '2025-01-01',
          end_date: '2025-01-31',
          eligible_skus: ['A', 'B'],
          tiers: '0:0.1',
          max_amount_per_unit: null,
        },
      },
    ]);
  });

  it.each([
    [`${HEADER}\nP1,V1,2025-01-01,2025-01-31,A,5:0.1,\n`, /line 2: tiers: the first tier must start at quantity 0/],
    [`${HEADER}\nP1,V1,2025-02-01,2025-01-31,A,0:0.1,\n`, /line 2: end_date 2025-01-31 is before start_date/],
    [`${HEADER}\nP1,V1,2025-01-01,2025-01-32,A,0:0.1,\n`, /line 2: end_date "2025-01-32" is not a date/],
    [`${HEADER}\nP1,V1,2025-01-01,2025-01-31,A;;B,0:0.1,\n`, /line 2: eligible_skus must list SKUs/],
    [`${HEADER}\nP1,V1,2025-01-01,2025-01-31,A,0:0.1,-1\n`, /line 2: max_amount_per_unit "-1"/],
    [
      `${HEADER}\nP1,V1,2025-01-01,2025-01-31,A,0:0.1,\n\nP1,V1,2025-01-01,2025-01-31,B,0:0.1,\n`,
      /line 4: promotion P1 is listed twice \(first at line 2\)/,
    ],
    [
      'promotion_id,vendor_id,start,end\nP1,V1,x,y\n',
      /header must have the columns .*missing: start_date, end_date, eligible_skus, tiers; unknown: start, end/,
    ],
    [`${HEADER}\nP1,V1,2025-01-01,2025-01-31,A,0:0.1\n`, /line 2: record has 6 cells but the header/],
  ])('refuses a bad master with the file and line (%#)', async (text, message) => {
    const err = await readMaster(text).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(/^m\.csv: /);
    expect((err as InputError).message).toMatch(message);
  });
});

describe('readers on the samples', () => {
  it('CSV: one record per row, canonical names, lines and byte offsets', async () => {
    const { records, chunks } = await readAll(await fresh(path.join(SAMPLES, 'claims-q1.csv')), {}, 3);
    expect(chunks.map((c) => c.recordCount)).toEqual([3, 3, 2]);
    expect(records).toHaveLength(8);
    expect(records[0]).toEqual({
      recordNo: 1,
      location: { file: 'claims-q1.csv', line: 2, byteOffset: 76 },
      fields: {
        vendor_id: 'V-1001',
        claim_period: '2025-02',
        sku: 'SKU-10001',
        quantity: '480',
        amount: '5616.00',
        promotion_id: 'PR-25-101',
        claim_date: '2025-02-11',
        line_ref: 'INV-88121-1',
      },
    });
    expect(records[4]).toEqual({
      recordNo: 5,
      location: { file: 'claims-q1.csv', line: 6, byteOffset: 357 },
      fields: {
        vendor_id: 'V-1003',
        claim_period: '2025-03',
        sku: 'SKU-30001',
        quantity: '999',
        amount: '3896.10',
        promotion_id: 'PR-25-301',
        claim_date: '',
        line_ref: '',
      },
    });
    expect(records.map((r) => r.fields.line_ref)).toEqual([
      'INV-88121-1',
      'INV-88121-2',
      'INV-4410-1',
      'INV-4410-2',
      '',
      'RC-5521',
      'CLM-0091',
      'CLM-6-17',
    ]);
  });

  it('XLSX: headings mapped, the period date read as its month, Excel’s 17 digits as Excel shows them', async () => {
    const { records } = await readAll(await fresh(path.join(SAMPLES, 'claims-q2.xlsx')), {}, 3);
    expect(records).toHaveLength(7);
    expect(records[0]).toEqual({
      recordNo: 1,
      location: { file: 'claims-q2.xlsx', position: 'sheet "Claims" row 2' },
      fields: {
        vendor_id: 'V-1001',
        claim_period: '2025-04',
        sku: 'SKU-10003',
        quantity: '1000',
        amount: '12000',
        promotion_id: 'PR-25-101',
        claim_date: '2025-04-30',
        line_ref: 'INV-90007-1',
      },
    });
    expect(records[1]!.fields).toMatchObject({ amount: '45000.75', claim_date: '' });
    expect(records[3]!.fields).toMatchObject({ amount: '1234.56', quantity: '4000' }); // stored 1234.5599999999999
    expect(records[5]!.fields).toMatchObject({ quantity: '12.5', line_ref: 'RC-6004' });
    expect(records[6]!.location.position).toBe('sheet "Claims" row 8');
  });

  it('the samples give their documented outcome, and their accruals', async () => {
    const lookup = await masterLookup(path.join(SAMPLES, 'promotions.csv'));
    for (const name of ['claims-q1.csv', 'claims-q2.xlsx']) {
      const expected = JSON.parse(await readFile(path.join(SAMPLES, `${name}.expected.json`), 'utf8'));
      const { keys: _keys, ...outcome } = await processLikeThePipeline(await fresh(path.join(SAMPLES, name)), lookup);
      expect(outcome, name).toEqual(expected);
    }
  });

  it('header synonyms, another delimiter and windows-1252', async () => {
    const file = path.join(await mkdtemp(path.join(dir, 'cp-')), 'claims.txt');
    const text =
      'Vendor;Period;Item;Qty;Claimed Amount;Promo ID;Date;Line Reference\r\n' +
      'V-1001;2025-02;SKU-10001;10;100,00;PR-25-101;;Réf-1\r\n';
    await writeFile(file, Buffer.from(text, 'latin1'));
    const { records } = await readAll(file, { format: 'csv', delimiter: ';', encoding: 'windows-1252' });
    expect(records[0]!.fields).toEqual({
      vendor_id: 'V-1001',
      claim_period: '2025-02',
      sku: 'SKU-10001',
      quantity: '10',
      amount: '100,00',
      promotion_id: 'PR-25-101',
      claim_date: '',
      line_ref: 'Réf-1',
    });
    expect(canonicalColumn(' Promotion-ID ')).toBe('promotion_id');
    expect(canonicalColumn('Notes')).toBe('Notes');
  });

  it('rounds only what Excel would show differently', () => {
    expect(excelNumberText('1234.5599999999999')).toBe('1234.56');
    expect(excelNumberText('0.010000000000000000')).toBe('0.01');
    expect(excelNumberText('12.345')).toBe('12.345');
    // Beyond 15 digits before the point Excel would show an exponent: left as written (and refused as an amount).
    expect(excelNumberText('123456789012345678')).toBe('123456789012345678');
    expect(excelNumberText('abc')).toBe('abc');
  });
});

describe('malformed input ends in a located error or a held record', () => {
  const write = async (name: string, content: string | Buffer) => {
    const file = path.join(await mkdtemp(path.join(dir, 'bad-')), name);
    await writeFile(file, content);
    return file;
  };
  const planError = async (file: string, input: InputOptions = {}) => {
    const err = await readAll(file, input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  };
  const HEADER = 'vendor_id,claim_period,sku,quantity,amount,promotion_id,claim_date,line_ref\n';

  it('CSV: an unclosed quote is an error naming the file and line', async () => {
    const file = await write('c.csv', `${HEADER}V-1,2025-01,S,1,1.00,P,,a\nV-1,2025-01,"S,1,1.00,P,,b\n`);
    const err = await planError(file);
    expect(err.message).toMatch(/^c\.csv: .*line 3/);
    expect(err.location).toMatchObject({ file: 'c.csv', line: 3 });
  });

  it('CSV: a header naming one field twice is a schema violation of the file', async () => {
    const file = await write('c.csv', 'vendor_id,Qty,quantity\nV,1,2\n');
    const err = await planError(file);
    expect(err.code).toBe('schema_violation');
    expect(err.message).toMatch(/c\.csv: header \(line 1\): the columns "Qty" and "quantity" both name quantity/);
  });

  it('CSV: a short or long row stays one record, held by validation', async () => {
    const file = await write('c.csv', `${HEADER}V-1,2025-01,S,1,1.00\nV-1,2025-01,S,1,1.00,P,,a,surplus\n`);
    const { records } = await readAll(file);
    expect(records.map((r) => r.location.line)).toEqual([2, 3]);
    expect(rebateProfile.validate(records[0]!.fields)).toMatchObject({
      ok: false,
      reasonCode: 'missing_field',
      issues: [{ path: 'promotion_id', code: 'missing' }],
    });
    expect(rebateProfile.validate(records[1]!.fields)).toMatchObject({
      ok: false,
      reasonCode: 'schema_violation',
      issues: [{ path: '_extra_1', code: 'unknown_column', value: 'surplus' }],
    });
  });

  it('XLSX: a file that is not a workbook is an error naming the file', async () => {
    const err = await planError(await write('c.xlsx', 'PK\u0003\u0004 not really a zip'));
    expect(err.message).toMatch(/^c\.xlsx: cannot read the workbook/);
  });

  it('XLSX: an error cell makes that line a parse error; the rest goes on', async () => {
    const file = path.join(await mkdtemp(path.join(dir, 'bad-')), 'e.xlsx');
    await writeXlsx(file, [
      {
        name: 'Claims',
        rows: [
          ['vendor_id', 'claim_period', 'sku', 'quantity', 'amount', 'promotion_id'],
          ['V-1001', '2025-02', 'SKU-10001', 10, { error: '#N/A' }, 'PR-25-101'],
          ['V-1001', '2025-02', 'SKU-10001', 10, 100, 'PR-25-101'],
        ],
      },
    ]);
    const { records } = await readAll(file);
    expect(records).toHaveLength(2);
    expect(records[0]!.parseIssues).toEqual([
      { path: 'amount', code: 'error_cell', message: 'cell E2 holds the spreadsheet error #N/A', value: '#N/A' },
    ]);
    expect(records[0]!.location).toEqual({ file: 'e.xlsx', position: 'sheet "Claims" row 2' });
    expect(records[1]!.parseIssues).toBeUndefined();
  });

  it('XLSX: a value beyond the header is an error naming the sheet, row and cell', async () => {
    const file = path.join(await mkdtemp(path.join(dir, 'bad-')), 'w.xlsx');
    await writeXlsx(file, [
      {
        name: 'Claims',
        rows: [
          ['vendor_id', 'sku'],
          ['V', 'S', 'surplus'],
        ],
      },
    ]);
    const err = await planError(file);
    expect(err.message).toMatch(/w\.xlsx: sheet "Claims" row 2: cell C2/);
  });

  it('XLSX: a sheet that does not exist is an error', async () => {
    const err = await planError(await fresh(path.join(SAMPLES, 'claims-q2.xlsx')), { sheet: 'Nope' });
    expect(err.message).toMatch(/claims-q2\.xlsx/);
    expect(err.message).toMatch(/Nope/);
  });

  it('a format the profile does not read is refused by name', async () => {
    const err = await planError(await write('c.json', '[{"vendor_id":"V"}]'));
    expect(err.message).toMatch(/profile rebate does not read json input \(detected\); it reads csv, xlsx/);
  });
});

/**
 * Validates and classifies every record of a file as the chunk stages do, and commits like the ledger: the first
 * line of each idempotency key commits, later ones are duplicates. Returns the outcome in the oracle's shape.
 */
async function processLikeThePipeline(
  file: string,
  lookup: ReferenceLookup,
  maxRecords = 250,
): Promise<Omit<RebateExpectedOutcome, 'seed' | 'format'> & { keys: string[] }> {
  const name = path.basename(file);
  let layout: InputLayout | undefined;
  const chunks: ChunkPlan[] = [];
  for await (const item of rebateProfile.plan(file, name, { maxRecords, maxBytes: 45 << 20 })) {
    if ('layout' in item) layout = item.layout;
    else chunks.push(item);
  }
  const outcome = {
    profile: 'rebate',
    records: 0,
    committed: 0,
    duplicates: 0,
    quarantined: 0,
    byReason: {} as Record<string, number>,
    committedSum: { field: 'amount', value: '0.00' },
    committedAccrual: '0.00',
    keys: [] as string[],
  };
  const seen = new Set<string>();
  let amount = 0n;
  let accrual = 0n;
  const hold = (reason: string) => {
    outcome.quarantined++;
    outcome.byReason[reason] = (outcome.byReason[reason] ?? 0) + 1;
  };
  for (const chunk of chunks) {
    const records = await rebateProfile.readChunk(file, name, layout!, chunk);
    // Staged records pass through JSON between planning and reading, as they do between workers.
    const validated = records.map((r) =>
      r.parseIssues ? null : rebateProfile.validate(JSON.parse(JSON.stringify(r.fields))),
    );
    const valid = validated.flatMap((v) => (v?.ok ? [v.record] : []));
    const prepared = await rebateProfile.prepareClassify!(valid, lookup, context());
    for (const v of validated) {
      outcome.records++;
      if (v === null) hold('parse_error');
      else if (!v.ok) hold(v.reasonCode);
      else {
        const c = rebateProfile.classify(v.record, prepared, context());
        if (c.hold) hold(c.reasonCode);
        else {
          const key = rebateProfile.idempotencyKey(v.record);
          outcome.keys.push(key);
          if (seen.has(key)) outcome.duplicates++;
          else {
            seen.add(key);
            outcome.committed++;
            amount += toCents(v.record.amount)!;
            const a = assessClaim(v.record, prepared.promotions.get(v.record.promotion_id));
            if (a.hold) throw new Error('classify and assessClaim disagree');
            accrual += a.accrual.cents;
          }
        }
      }
    }
  }
  outcome.committedSum.value = formatCents(amount);
  outcome.committedAccrual = formatCents(accrual);
  return outcome;
}

describe('generator', () => {
  const defects = Object.fromEntries(REBATE_DEFECTS.map((d) => [d, d === 'duplicate' ? 0.04 : 0.025]));

  it.each(['csv', 'xlsx'] as const)(
    '%s: the oracle is exactly what reading, validating and classifying the file gives',
    async (format: RebateFormat) => {
      const out = path.join(await mkdtemp(path.join(dir, 'gen-')), `claims.${format}`);
      const expected = await generateRebateClaims(out, { records: 3000, seed: 11, defects, format });
      const { promotions } = await writePromotionMaster(out);
      const { keys, ...actual } = await processLikeThePipeline(out, await masterLookup(promotions));
      const { seed: _s, format: _f, ...oracle } = expected;
      expect(actual).toEqual(oracle);
      expect(keys.length).toBe(expected.committed + expected.duplicates);
      // Every defect was planted, and a fair share of the lines reached a tier above the first.
      for (const d of REBATE_DEFECTS.filter((x) => x !== 'duplicate')) expect(expected.byReason[d]).toBeGreaterThan(30);
      expect(expected.duplicates).toBeGreaterThan(60);
    },
  );

  it('the same seed gives the same lines, hence the same keys, in both formats; another seed shares none', async () => {
    const folder = await mkdtemp(path.join(dir, 'twins-'));
    const { promotions } = await writePromotionMaster(path.join(folder, 'x'));
    const lookup = await masterLookup(promotions);
    const run = async (format: RebateFormat, seed: number) => {
      const out = path.join(folder, `s${seed}.${format}`);
      const expected = await generateRebateClaims(out, { records: 500, seed, defects, format });
      return { expected, keys: (await processLikeThePipeline(out, lookup)).keys };
    };
    const csv = await run('csv', 5);
    const xlsx = await run('xlsx', 5);
    const other = await run('csv', 6);
    expect(xlsx.keys).toEqual(csv.keys);
    expect({ ...xlsx.expected, format: 'csv' }).toEqual(csv.expected);
    const csvKeys = new Set(csv.keys);
    expect(other.keys.some((k) => csvKeys.has(k))).toBe(false);
  });

  it('is deterministic for a seed, and refuses bad options', async () => {
    const folder = await mkdtemp(path.join(dir, 'det-'));
    const a = await generateRebateClaims(path.join(folder, 'a.csv'), { records: 200, seed: 3, defects });
    const b = await generateRebateClaims(path.join(folder, 'b.csv'), { records: 200, seed: 3, defects });
    expect(a).toEqual(b);
    expect(await readFile(path.join(folder, 'a.csv'), 'utf8')).toBe(await readFile(path.join(folder, 'b.csv'), 'utf8'));
    await expect(
      generateRebateClaims(path.join(folder, 'c.csv'), { records: 1, defects: { duplicate: 0.7, over_claim: 0.5 } }),
    ).rejects.toThrow(/more than 1/);
    await expect(
      generateRebateClaims(path.join(folder, 'c.csv'), { records: 1, defects: { typo: 0.1 } as never }),
    ).rejects.toThrow(/unknown rebate defect typo/);
  });

  it('through the profile’s generator: writes the master next to the file', async () => {
    const out = path.join(await mkdtemp(path.join(dir, 'pg-')), 'g.xlsx');
    const generator = rebateProfile.generator!;
    const expected = await generator.generate(out, { records: 50, seed: 2, defects: {}, format: 'xlsx' });
    expect(expected).toMatchObject({ profile: 'rebate', records: 50, committed: 50, format: 'xlsx' });
    const refs = await generator.references!(out, { records: 50, seed: 2, defects: {} });
    expect(refs).toEqual({ promotions: path.join(path.dirname(out), 'rebate-promotions.csv') });
    expect(await readFile(refs.promotions!, 'utf8')).toBe(promotionMasterCsv());
  });
});
