/**
 * Every drill scenario, in the order `npm run drill` runs them (grouped by the stack they need). One file per
 * scenario; add a scenario by importing it and appending it to the list.
 */
import type { Scenario } from '../types.ts';
import { cleanRun } from './clean-run.ts';
import { killAfterCommit } from './kill-after-commit.ts';
import { killWorkersRepeatedly } from './kill-workers-repeatedly.ts';
import { temporalRestart } from './temporal-restart.ts';
import { postgresOutage } from './postgres-outage.ts';
import { workersDownPastTimeouts } from './workers-down-past-timeouts.ts';
import { lateCommit } from './late-commit.ts';
import { sameFile20x } from './same-file-20x.ts';
import { duplicatesAndConflicts } from './duplicates-and-conflicts.ts';
import { reviewDecisions } from './review-decisions.ts';
import { manyBatchesFewConnections } from './many-batches-few-connections.ts';
import { continueAsNewLimits } from './continue-as-new-limits.ts';

export const SCENARIOS: Scenario[] = [
  cleanRun,
  killAfterCommit,
  killWorkersRepeatedly,
  temporalRestart,
  postgresOutage,
  workersDownPastTimeouts,
  lateCommit,
  sameFile20x,
  duplicatesAndConflicts,
  reviewDecisions,
  manyBatchesFewConnections,
  continueAsNewLimits,
];
