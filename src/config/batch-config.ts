/**
 * Batch configuration: seed 000's `batch_config` YAML shape, validated with zod, layered as
 * global defaults < profile defaults < the user's file. Errors name the key.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { BatchConfig, Stage, StagePolicy } from '../shared/contracts.ts';
import { DEFAULT_CIRCUIT_BREAKER, STAGES } from '../shared/contracts.ts';
import type { Profile } from '../profiles/types.ts';

const positiveInt = z.number().int().positive();

/** Input formats sluice reads (src/formats); a profile reads some of them. */
export const INPUT_FORMATS = ['csv', 'xlsx', 'xml', 'x12', 'json', 'ndjson', 'feed-list'] as const;

const RetryPolicySchema = z
  .object({
    max_attempts: positiveInt.optional(),
    backoff_multiplier: z.number().min(1).optional(),
    /** Temporal's retry policy has no jitter; accepted for compatibility with seed 000's shape and ignored. */
    jitter_seconds: z.number().nonnegative().optional(),
    initial_interval_seconds: z.number().positive().optional(),
    max_interval_seconds: z.number().positive().optional(),
  })
  .strict();

const StageOverrideSchema = z
  .object({ timeout_seconds: positiveInt.optional(), retry_policy: RetryPolicySchema.optional() })
  .strict();

/** The file's shape: everything optional, unknown keys rejected so a typo is an error and not a silent default. */
export const BatchConfigFileSchema = z
  .object({
    batch_config: z
      .object({
        max_chunk_size: positiveInt.optional(),
        max_payload_mb: z.number().positive().optional(),
        max_concurrent_chunks: positiveInt.max(500).optional(),
        timeout_seconds: positiveInt.optional(),
        review_deadline_seconds: positiveInt.optional(),
        retry_policy: RetryPolicySchema.optional(),
        stages: z.partialRecord(z.enum(STAGES), StageOverrideSchema).optional(),
        /** Seed 000's format routing thresholds; used by profiles that read several formats. */
        routing_rules: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
        input: z
          .object({
            format: z.enum(INPUT_FORMATS).optional(),
            encoding: z.enum(['utf-8', 'windows-1252']).optional(),
            delimiter: z
              .string()
              .refine((d) => d.length === 1 && d.charCodeAt(0) < 0x80 && !/["\r\n]/.test(d), {
                message: 'must be one ASCII character other than a quote or line break',
              })
              .optional(),
            sheet: z.string().min(1).optional(),
          })
          .strict()
          .optional(),
        profile_options: z.record(z.string(), z.unknown()).optional(),
        commit_target: z
          .discriminatedUnion('type', [
            z.object({ type: z.literal('ledger') }).strict(),
            z
              .object({
                type: z.literal('http'),
                url: z.url({ protocol: /^https?$/ }),
                timeout_seconds: positiveInt.max(600).default(30),
                headers: z.record(z.string(), z.string()).optional(),
              })
              .strict(),
          ])
          .optional(),
        task_queues: z
          .object({ classify: z.string().min(1).optional(), commit: z.string().min(1).optional() })
          .strict()
          .optional(),
        circuit_breaker: z
          .object({
            enabled: z.boolean().optional(),
            failure_rate: z.number().gt(0).max(1).optional(),
            window_seconds: positiveInt.optional(),
            min_attempts: positiveInt.optional(),
            cooldown_seconds: positiveInt.optional(),
            max_cooldown_seconds: positiveInt.optional(),
          })
          .strict()
          .optional(),
        /** Percent of the batch's records that may be held per reason code (`*`: all reasons). */
        tolerated_failures: z
          .record(
            z.string().regex(/^(\*|[a-z][a-z0-9_]*)$/, 'a reason code such as schema_violation, or *'),
            z.number().min(0).max(100),
          )
          .optional(),
        /** A duplicate whose content differs from the ledger's: recorded with its differences, or held for review. */
        conflicting_duplicates: z
          .enum(['record', 'hold'], {
            error: 'must be record (count it a duplicate, keep its differences) or hold (hold it for review)',
          })
          .optional(),
      })
      .strict(),
  })
  .strict();
export type BatchConfigFile = z.infer<typeof BatchConfigFileSchema>;

const DEFAULT_RETRY = { max_attempts: 3, backoff_multiplier: 2, initial_interval_seconds: 1, max_interval_seconds: 60 };

/** Seed 000's baseline, plus what the seed leaves open. */
export const DEFAULTS = {
  max_chunk_size: 750,
  max_payload_mb: 45,
  max_concurrent_chunks: 8,
  timeout_seconds: 180,
  review_deadline_seconds: 7 * 24 * 3600,
} as const;

/** Per-stage defaults that differ from the top-level ones (planning reads the whole input; commits retry longer). */
const STAGE_DEFAULTS: Partial<Record<Stage, { timeout_seconds?: number; max_attempts?: number }>> = {
  plan: { timeout_seconds: 3600 },
  commit: { max_attempts: 10 },
  review: { max_attempts: 10 },
};

/** What configuration needs of a profile. */
type ProfileDefaults = Pick<Profile, 'defaultConfig'> & Partial<Pick<Profile, 'optionsSchema' | 'id'>>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describeIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((i) => {
      const key = i.path.join('.') || '(root)';
      // A bad record key (a reason code) carries its own message one level down.
      const detail = i.code === 'invalid_key' ? i.issues.map((sub) => sub.message).join('; ') : i.message;
      return `${source}: ${key}: ${detail}`;
    })
    .join('\n');
}

/** Builds the effective configuration. `file` is the parsed YAML (or undefined for none). */
export function resolveBatchConfig(file: unknown, profile?: ProfileDefaults, source = 'config'): BatchConfig {
  const parsed = BatchConfigFileSchema.safeParse(file ?? { batch_config: {} });
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, source));
  const user = parsed.data.batch_config;
  const topRetry = { ...DEFAULT_RETRY, ...stripUndefined(user.retry_policy ?? {}) };
  const topTimeout = user.timeout_seconds ?? DEFAULTS.timeout_seconds;

  const stages = {} as Record<Stage, StagePolicy>;
  for (const stage of STAGES) {
    const stageDefaults = STAGE_DEFAULTS[stage] ?? {};
    const override = user.stages?.[stage];
    const { jitter_seconds: _ignored, ...retry } = {
      ...topRetry,
      ...(stageDefaults.max_attempts && !user.retry_policy?.max_attempts
        ? { max_attempts: stageDefaults.max_attempts }
        : {}),
      ...stripUndefined(override?.retry_policy ?? {}),
    } as typeof topRetry & { jitter_seconds?: number };
    stages[stage] = {
      timeout_seconds: override?.timeout_seconds ?? stageDefaults.timeout_seconds ?? topTimeout,
      retry_policy: retry,
    };
    if (retry.max_interval_seconds < retry.initial_interval_seconds) {
      throw new ConfigError(
        `${source}: batch_config.stages.${stage}.retry_policy: max_interval_seconds must be >= initial_interval_seconds`,
      );
    }
  }

  const profileOptions = { ...profile?.defaultConfig.profile_options, ...user.profile_options };
  if (profile?.optionsSchema) {
    const checked = profile.optionsSchema.safeParse(profileOptions);
    if (!checked.success) {
      throw new ConfigError(
        checked.error.issues
          .map(
            (i) =>
              `${source}: batch_config.profile_options.${i.path.join('.')}: ${i.message} (profile ${profile.id ?? '?'})`,
          )
          .join('\n'),
      );
    }
  }
  const taskQueues = { ...profile?.defaultConfig.task_queues, ...stripUndefined(user.task_queues ?? {}) };

  return {
    ...(user.input ? { input: stripUndefined(user.input) } : {}),
    ...(Object.keys(profileOptions).length > 0 ? { profile_options: profileOptions } : {}),
    ...(user.routing_rules ? { routing_rules: user.routing_rules } : {}),
    ...(user.commit_target ? { commit_target: user.commit_target } : {}),
    ...(Object.keys(taskQueues).length > 0 ? { task_queues: taskQueues } : {}),
    ...(user.circuit_breaker
      ? { circuit_breaker: { ...DEFAULT_CIRCUIT_BREAKER, ...stripUndefined(user.circuit_breaker) } }
      : {}),
    ...(user.tolerated_failures ? { tolerated_failures: user.tolerated_failures } : {}),
    ...(user.conflicting_duplicates ? { conflicting_duplicates: user.conflicting_duplicates } : {}),
    max_chunk_size: user.max_chunk_size ?? profile?.defaultConfig.max_chunk_size ?? DEFAULTS.max_chunk_size,
    max_payload_mb: user.max_payload_mb ?? profile?.defaultConfig.max_payload_mb ?? DEFAULTS.max_payload_mb,
    max_concurrent_chunks:
      user.max_concurrent_chunks ?? profile?.defaultConfig.max_concurrent_chunks ?? DEFAULTS.max_concurrent_chunks,
    review_deadline_seconds: user.review_deadline_seconds ?? DEFAULTS.review_deadline_seconds,
    stages,
  };
}

/** Reads and validates a YAML config file; errors name the file and the key. */
export async function loadBatchConfigFile(path: string, profile?: ProfileDefaults): Promise<BatchConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${path}: cannot read config file: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  return resolveBatchConfig(doc, profile, path);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
