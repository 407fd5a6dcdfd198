/** What a profile's stages are told about the batch: its profile options and routing thresholds. */
import type { BatchConfig } from '../shared/contracts.ts';
import type { ProfileContext } from './types.ts';

export function profileContext(
  config: Pick<BatchConfig, 'profile_options' | 'routing_rules'> | undefined,
): ProfileContext {
  return { options: config?.profile_options ?? {}, routing: config?.routing_rules ?? {} };
}
