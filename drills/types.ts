/**
 * The drill contract: a scenario runs on a real local stack (Temporal dev server, PostgreSQL, worker processes),
 * injects its fault by process id, and hands back the batches it ran with their oracles. The harness then checks the
 * five invariants (accounting, no duplicates, content, liveness, replay) and whether the fault landed.
 */
import type pg from 'pg';
import type { SluiceClient } from '../src/client/sluice-client.ts';
import type { BatchConfig } from '../src/shared/contracts.ts';
import type { ExpectedOutcome } from '../src/profiles/types.ts';

export type Verdict = 'PASS' | 'FAIL' | 'INCONCLUSIVE';

/** What a scenario needs of the servers; scenarios with the same needs share one stack. */
export interface StackNeeds {
  /** Extra `--dynamic-config-value` settings of the Temporal dev server (e.g. lowered history limits). */
  temporalDynamicConfig?: string[];
  /** PostgreSQL `max_connections` (default: startPostgres's, 200). */
  postgresMaxConnections?: number;
}

/** One worker process (`sluice worker`), killable by pid. */
export interface DrillWorker {
  pid: number;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  kill(signal?: NodeJS.Signals): void;
}

export interface DrillStack {
  temporalAddress: string;
  databaseUrl: string;
  /** Process id of the Temporal dev server (changes on restart). */
  temporalPid(): number;
  /** Stops the dev server (SIGKILL when `hard`) and starts it again on the same database file and port. */
  restartTemporal(opts?: { hard?: boolean; downForMs?: number }): Promise<void>;
  /** Process id of the PostgreSQL postmaster. */
  postgresPid(): number;
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
}

/** What a scenario run produced, for the harness to check. */
export interface ScenarioRun {
  /** Every batch the scenario submitted, with what its records must end as. */
  batches: Array<{ batchId: string; expected: ExpectedOutcome }>;
  /**
   * Whether the fault had to show up as a retry in history (activity attempt > 1, a retried or timed-out child or
   * workflow task). When true and no retry is found, the verdict is INCONCLUSIVE rather than PASS.
   */
  expectRetry: boolean;
  /** Scenario-specific checks on top of the five invariants; a failed one fails the scenario. */
  checks?: Array<{ name: string; ok: boolean; detail: string }>;
  /** One line on what was injected and when (pids, times), for the report. */
  fault?: string;
  /**
   * How long after the scenario returns its batches may take to settle (liveness); default 3 minutes. The harness
   * keeps the run's live workers running until the checks are done.
   */
  livenessLimitMs?: number;
}

export interface DrillContext {
  stack: DrillStack;
  client: SluiceClient;
  db: pg.Pool;
  /** A fresh work folder for this scenario run. */
  dir: string;
  log(message: string): void;
  /** Starts a `sluice worker` process against the drill stack; extra env for fault hooks. */
  spawnWorker(opts?: { env?: Record<string, string>; args?: string[] }): Promise<DrillWorker>;
  /** Workers started by this run that are still alive. */
  liveWorkers(): DrillWorker[];
  /** An inventory manifest with planted defects and its oracle (seeds make keys unique across batches). */
  generate(
    name: string,
    opts: { records: number; seed: number; defects?: Record<string, number> },
  ): Promise<{ file: string; expected: ExpectedOutcome }>;
  /** A batch configuration for drills (small chunks, short timeouts), with overrides. */
  config(overrides?: Record<string, unknown>): BatchConfig;
}

export interface Scenario {
  name: string;
  /** One sentence: the fault and what must hold. */
  summary: string;
  /** Part of the fast subset that CI runs. */
  fast: boolean;
  stack?: StackNeeds;
  run(ctx: DrillContext): Promise<ScenarioRun>;
}
