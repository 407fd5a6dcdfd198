/**
 * The fast drill subset (issue #5) through the harness API, as CI runs it: each fast scenario on a stack of the
 * harness's own (no globalSetup), and each must PASS. INCONCLUSIVE (the fault did not land) fails too, with why.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DrillResult } from '../../drills/harness/runner.ts';
import { runDrills } from '../../drills/harness/runner.ts';
import { SCENARIOS } from '../../drills/scenarios/index.ts';

const fast = SCENARIOS.filter((s) => s.fast);
const results = new Map<string, DrillResult>();

beforeAll(async () => {
  for (const r of await runDrills({ scenarios: fast, log: (msg) => console.error(`[drill] ${msg}`) })) {
    results.set(r.scenario, r);
  }
}, 15 * 60_000);

describe('fast drills pass', () => {
  it('there is a fast subset', () => {
    expect(fast.length).toBeGreaterThan(0);
  });

  it.each(fast.map((s) => s.name))('%s', (name) => {
    const r = results.get(name);
    expect(r, `${name} did not run`).toBeDefined();
    const failed = r!.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    const why = [r!.reason, r!.fault ? `fault: ${r!.fault}` : '', ...failed].filter(Boolean).join('\n  ');
    expect(r!.verdict, `${name}: ${r!.verdict}\n  ${why}`).toBe('PASS');
  });
});
