/**
 * Runs drill scenarios: one stack per kind of StackNeeds, each scenario run in a context of its own, then the five
 * invariants on every batch it ran, the scenario's own checks and whether its fault landed, and a verdict.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { batchWorkflowId } from '../../src/shared/task-queues.ts';
import type { Scenario, ScenarioRun, Verdict } from '../types.ts';
import { createDrillRun } from './context.ts';
import type { BatchHistory, CheckResult } from './invariants.ts';
import {
  batchHistories,
  checkAccounting,
  checkContent,
  checkLiveness,
  checkNoDuplicates,
  checkReplay,
  retriesIn,
  workflowBundle,
} from './invariants.ts';
import type { RunningDrillStack } from './stack.ts';
import { needsKey, startDrillStack } from './stack.ts';

export const DEFAULT_LIVENESS_LIMIT_MS = 3 * 60_000;

export interface DrillResult {
  scenario: string;
  /** 1-based repetition. */
  run: number;
  verdict: Verdict;
  /** Why the verdict is not PASS (failed checks, or no retry seen); empty for PASS. */
  reason: string;
  /** The whole run: scenario, settling and checks. */
  seconds: number;
  /** The scenario itself, until it returned. */
  scenarioSeconds: number;
  checks: CheckResult[];
  /** Signs of retries found in the histories (the fault landing). */
  retries: string[];
  fault?: string;
  batches: string[];
  /** The run's work folder (worker logs, manifests); removed with the stack unless kept. */
  dir: string;
}

export interface RunDrillsOptions {
  scenarios: Scenario[];
  /** Runs of each scenario (default 1). */
  repeat?: number;
  /** Progress lines. */
  log?: (msg: string) => void;
  /** Called as each run ends. */
  onResult?: (result: DrillResult) => void;
  /** Keep the stacks' folders (logs, Temporal db, PostgreSQL cluster) for inspection. */
  keep?: boolean;
}

let runtimeInstalled = false;
function installQuietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by the caller
  }
}

let runCounter = 0;

export async function runDrills(opts: RunDrillsOptions): Promise<DrillResult[]> {
  const log = opts.log ?? (() => undefined);
  const repeat = opts.repeat ?? 1;
  installQuietRuntime();
  // The fault hooks are for the workers a scenario starts with them; this process re-runs commits in its checks.
  delete process.env.SLUICE_DRILL_FAULT;
  // Bundling takes a while: start it now, it is ready by the time the first checks need it.
  workflowBundle().catch(() => undefined);

  const groups = new Map<string, Scenario[]>();
  for (const s of opts.scenarios) {
    const key = needsKey(s.stack);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const results: DrillResult[] = [];
  for (const scenarios of groups.values()) {
    const needs = scenarios[0]!.stack ?? {};
    log(
      `starting a stack for ${scenarios.map((s) => s.name).join(', ')}${needsKey(needs) === needsKey() ? '' : ` (${JSON.stringify(needs)})`}`,
    );
    const stack = await startDrillStack(needs, log);
    log(`stack up: Temporal ${stack.temporalAddress}, PostgreSQL ${stack.databaseUrl}, home ${stack.home}`);
    try {
      for (let run = 1; run <= repeat; run++) {
        for (const scenario of scenarios) {
          const result = await runOne(stack, scenario, run, repeat, log);
          results.push(result);
          opts.onResult?.(result);
        }
      }
    } finally {
      await stack.close({ keep: opts.keep ?? false });
      if (opts.keep) log(`kept the stack's folders ${stack.home} and ${stack.postgresDataDir}`);
    }
  }
  return results;
}

async function runOne(
  stack: RunningDrillStack,
  scenario: Scenario,
  run: number,
  repeat: number,
  baseLog: (msg: string) => void,
): Promise<DrillResult> {
  runCounter += 1;
  const label = repeat > 1 ? `${scenario.name} #${run}` : scenario.name;
  const log = (msg: string) => baseLog(`[${label}] ${msg}`);
  const started = Date.now();
  const drill = await createDrillRun({
    stack,
    name: `${scenario.name}-${runCounter}`,
    seedBase: runCounter * 1_000_000,
    log,
  });
  const checks: CheckResult[] = [];
  let outcome: ScenarioRun | undefined;
  let retries: string[] = [];
  let scenarioSeconds = 0;
  try {
    log(`running: ${scenario.summary}`);
    try {
      outcome = await scenario.run(drill.ctx);
    } catch (err) {
      checks.push({
        name: 'scenario',
        ok: false,
        detail: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
    scenarioSeconds = (Date.now() - started) / 1000;
    if (outcome) {
      if (outcome.fault) log(`fault: ${outcome.fault}`);
      if (outcome.batches.length === 0) checks.push({ name: 'scenario', ok: false, detail: 'ran no batch' });
      // Faults may have left the stack down; the checks need it up.
      await stack.startPostgres();
      const env = { client: drill.ctx.client, db: drill.ctx.db, blobDir: stack.blobDir };
      const deadline = Date.now() + (outcome.livenessLimitMs ?? DEFAULT_LIVENESS_LIMIT_MS);
      log(`checking ${outcome.batches.length} batch(es)`);
      for (const batch of outcome.batches) checks.push(await checkLiveness(env, batch, deadline));
      const histories: BatchHistory[] = [];
      for (const batch of outcome.batches) {
        for (const fn of [checkAccounting, checkNoDuplicates, checkContent]) {
          try {
            checks.push(await fn(env, batch));
          } catch (err) {
            checks.push({ name: fn.name, ok: false, detail: `${batch.batchId}: check failed: ${String(err)}` });
          }
        }
        try {
          histories.push(...(await batchHistories(drill.ctx.client.temporal, batch.batchId)));
        } catch (err) {
          checks.push({ name: 'replay', ok: false, detail: `${batch.batchId}: histories not read: ${String(err)}` });
        }
      }
      try {
        checks.push(await checkReplay(histories));
      } catch (err) {
        checks.push({ name: 'replay', ok: false, detail: `replay did not run: ${String(err)}` });
      }
      retries = retriesIn(histories);
      for (const c of outcome.checks ?? []) checks.push({ ...c, name: `scenario: ${c.name}` });
    }
  } finally {
    // Batches still running (awaiting review, or stuck) would keep the next scenario's workers busy.
    for (const b of outcome?.batches ?? []) {
      await drill.ctx.client.temporal.workflow
        .getHandle(batchWorkflowId(b.batchId))
        .terminate('drill run over')
        .catch(() => undefined);
    }
    await drill.dispose();
  }

  const failed = checks.filter((c) => !c.ok);
  let verdict: Verdict = 'PASS';
  let reason = '';
  if (failed.length > 0) {
    verdict = 'FAIL';
    reason = failed.map((c) => c.name).join(', ');
  } else if (outcome?.expectRetry && retries.length === 0) {
    verdict = 'INCONCLUSIVE';
    reason = 'the fault did not land: no retry in any history of the run';
  }
  const seconds = (Date.now() - started) / 1000;
  log(
    `${verdict} in ${seconds.toFixed(1)} s${retries.length ? ` (${retries.length} retr${retries.length === 1 ? 'y' : 'ies'} in history)` : ''}`,
  );
  return {
    scenario: scenario.name,
    run,
    verdict,
    reason,
    seconds,
    scenarioSeconds,
    checks,
    retries,
    ...(outcome?.fault ? { fault: outcome.fault } : {}),
    batches: outcome?.batches.map((b) => b.batchId) ?? [],
    dir: drill.ctx.dir,
  };
}
