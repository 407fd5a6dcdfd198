import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadBatchConfigFile, resolveBatchConfig } from '../../src/config/batch-config.ts';

describe('batch configuration', () => {
  it('defaults to seed 000 baseline values, with per-stage policies', () => {
    const c = resolveBatchConfig(undefined);
    expect(c.max_chunk_size).toBe(750);
    expect(c.max_payload_mb).toBe(45);
    expect(c.review_deadline_seconds).toBe(7 * 24 * 3600);
    expect(c.stages.parse).toEqual({
      timeout_seconds: 180,
      retry_policy: { max_attempts: 3, backoff_multiplier: 2, initial_interval_seconds: 1, max_interval_seconds: 60 },
    });
    expect(c.stages.commit.retry_policy.max_attempts).toBe(10);
    expect(c.stages.plan.timeout_seconds).toBe(3600);
  });

  it('layers profile defaults under the file, and stage overrides over the top-level policy', () => {
    const c = resolveBatchConfig(
      {
        batch_config: {
          timeout_seconds: 60,
          retry_policy: { max_attempts: 5, jitter_seconds: 5 },
          stages: { commit: { timeout_seconds: 30, retry_policy: { backoff_multiplier: 3 } } },
        },
      },
      { defaultConfig: { max_chunk_size: 2000, max_concurrent_chunks: 4 } },
    );
    expect(c.max_chunk_size).toBe(2000);
    expect(c.max_concurrent_chunks).toBe(4);
    expect(c.stages.validate.timeout_seconds).toBe(60);
    expect(c.stages.validate.retry_policy.max_attempts).toBe(5);
    // the user's top-level max_attempts wins over the commit stage's own default of 10
    expect(c.stages.commit).toEqual({
      timeout_seconds: 30,
      retry_policy: { max_attempts: 5, backoff_multiplier: 3, initial_interval_seconds: 1, max_interval_seconds: 60 },
    });
    expect(c.stages.commit.retry_policy).not.toHaveProperty('jitter_seconds');
  });

  it.each([
    [{ batch_config: { max_chunk_size: 0 } }, 'batch_config.max_chunk_size'],
    [{ batch_config: { max_chunk_sise: 10 } }, 'max_chunk_sise'],
    [{ batch_config: { retry_policy: { max_attempts: 1.5 } } }, 'batch_config.retry_policy.max_attempts'],
    [{ batch_config: { stages: { upload: {} } } }, 'batch_config.stages'],
    [{ chunk_size: 10 }, 'chunk_size'],
  ])('rejects %j with an error that names the key', (file, key) => {
    expect(() => resolveBatchConfig(file, undefined, 'my.yaml')).toThrow(ConfigError);
    expect(() => resolveBatchConfig(file, undefined, 'my.yaml')).toThrow(
      new RegExp(`my\\.yaml: .*${key.replace(/\./g, '\\.')}`),
    );
  });

  it('rejects a maximum retry interval below the initial one', () => {
    expect(() =>
      resolveBatchConfig({ batch_config: { retry_policy: { initial_interval_seconds: 10, max_interval_seconds: 5 } } }),
    ).toThrow(/max_interval_seconds must be >= initial_interval_seconds/);
  });

  it('takes conflicting_duplicates: record or hold, absent unless set; anything else names the key', () => {
    expect(resolveBatchConfig(undefined)).not.toHaveProperty('conflicting_duplicates');
    expect(resolveBatchConfig({ batch_config: { conflicting_duplicates: 'hold' } }).conflicting_duplicates).toBe(
      'hold',
    );
    expect(resolveBatchConfig({ batch_config: { conflicting_duplicates: 'record' } }).conflicting_duplicates).toBe(
      'record',
    );
    expect(() =>
      resolveBatchConfig({ batch_config: { conflicting_duplicates: 'flag' } }, undefined, 'my.yaml'),
    ).toThrow(/my\.yaml: batch_config\.conflicting_duplicates: must be record .* or hold/);
  });

  it('reads YAML files, and names the file when it is not YAML or not there', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sluice-config-'));
    const good = path.join(dir, 'good.yaml');
    await writeFile(good, 'batch_config:\n  max_chunk_size: 100\n  max_concurrent_chunks: 2\n');
    expect((await loadBatchConfigFile(good)).max_chunk_size).toBe(100);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'batch_config: [unclosed\n');
    await expect(loadBatchConfigFile(bad)).rejects.toThrow(/bad\.yaml: not valid YAML/);
    await expect(loadBatchConfigFile(path.join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: cannot read/);
    expect(DEFAULTS.max_chunk_size).toBe(750);
  });
});
