/** The baseline: no fault at all. Every invariant must hold. */
import type { Scenario } from '../types.ts';
import { waitSettled } from '../harness/wait.ts';

export const cleanRun: Scenario = {
  name: 'clean-run',
  summary: 'No fault: one worker runs a 3,000-record batch with planted defects; all five invariants hold.',
  fast: true,
  async run(ctx) {
    await ctx.spawnWorker();
    const { file, expected } = await ctx.generate('clean', { records: 3000, seed: 1 });
    const batch = await ctx.client.submitBatch({ file, profile: 'inventory', config: ctx.config() });
    await waitSettled(ctx, [batch.batchId], 120_000);
    return { batches: [{ batchId: batch.batchId, expected }], expectRetry: false };
  },
};
