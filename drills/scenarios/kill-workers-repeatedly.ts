/**
 * Chaos on the workers: three batches at once on two workers, and every 5 to 20 s one worker (chosen at random) is
 * SIGKILLed and a new one started, until every batch has settled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isSettled, since } from '../harness/wait.ts';
import type { DrillWorker, Scenario, ScenarioRun } from '../types.ts';

const BATCHES = 3;
const RECORDS = 24_000;
const GIVE_UP_MS = 6 * 60_000;

export const killWorkersRepeatedly: Scenario = {
  name: 'kill-workers-repeatedly',
  summary:
    'Three concurrent batches on two workers; a random worker is SIGKILLed every 5-20 s and replaced until the batches settle.',
  fast: false,
  async run(ctx) {
    await Promise.all([ctx.spawnWorker(), ctx.spawnWorker()]);
    const batches: ScenarioRun['batches'] = [];
    for (let i = 0; i < BATCHES; i++) {
      const { file, expected } = await ctx.generate(`chaos-${i + 1}`, { records: RECORDS, seed: 10 + i });
      const b = await ctx.client.submitBatch({ file, profile: 'inventory', config: ctx.config() });
      batches.push({ batchId: b.batchId, expected });
    }
    const t0 = Date.now();
    const allSettled = async () => (await Promise.all(batches.map((b) => isSettled(ctx, b.batchId)))).every(Boolean);

    const kills: string[] = [];
    let settled = false;
    while (!settled && Date.now() - t0 < GIVE_UP_MS) {
      const waitMs = 5_000 + Math.floor(Math.random() * 15_000);
      const until = Date.now() + waitMs;
      while (Date.now() < until && !(settled = await allSettled())) await sleep(500);
      if (settled) break;
      const live = ctx.liveWorkers();
      const victim: DrillWorker | undefined = live[Math.floor(Math.random() * live.length)];
      if (victim) {
        process.kill(victim.pid, 'SIGKILL');
        await victim.exited;
        kills.push(`${victim.pid}@${since(t0)}`);
        ctx.log(`SIGKILL worker ${victim.pid} at ${since(t0)}`);
      }
      while (ctx.liveWorkers().length < 2) await ctx.spawnWorker();
    }
    return {
      batches,
      expectRetry: true,
      fault: `${kills.length} SIGKILL(s) over ${since(t0)}: ${kills.join(', ')}`,
      checks: [
        {
          name: 'workers were killed while the batches ran',
          ok: kills.length > 0,
          detail: `${kills.length} kill(s) before the batches settled (${settled ? 'settled' : 'gave up waiting'})`,
        },
      ],
    };
  },
};
