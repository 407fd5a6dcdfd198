/**
 * Process configuration from the environment. Without TEMPORAL_ADDRESS / DATABASE_URL, sluice uses the local stack
 * that `sluice dev` starts (Temporal on 127.0.0.1:7233, PostgreSQL on 127.0.0.1:55432).
 */
import { join } from 'node:path';
import { z } from 'zod';
import { sluiceHome } from '../stack/paths.ts';

export const LOCAL_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const LOCAL_DATABASE_URL = 'postgres://sluice@127.0.0.1:55432/sluice';
export const LOCAL_UI_URL = 'http://127.0.0.1:8233';

const EnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  DATABASE_URL: z.string().url().optional(),
  SLUICE_BLOB_DIR: z.string().min(1).optional(),
  SLUICE_UI_URL: z.string().url().optional(),
});

export interface SluiceEnv {
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  blobDir: string;
  uiUrl: string;
  /** True when both services come from the environment, so no local stack is needed. */
  external: { temporal: boolean; database: boolean };
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): SluiceEnv {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues.map((i) => `environment variable ${i.path.join('.')}: ${i.message}`).join('\n'),
    );
  }
  const e = parsed.data;
  return {
    temporalAddress: e.TEMPORAL_ADDRESS ?? LOCAL_TEMPORAL_ADDRESS,
    namespace: e.TEMPORAL_NAMESPACE,
    databaseUrl: e.DATABASE_URL ?? LOCAL_DATABASE_URL,
    blobDir: e.SLUICE_BLOB_DIR ?? join(sluiceHome(), 'blobs'),
    uiUrl: e.SLUICE_UI_URL ?? LOCAL_UI_URL,
    external: { temporal: e.TEMPORAL_ADDRESS !== undefined, database: e.DATABASE_URL !== undefined },
  };
}
