/**
 * `npm run drill -- [--fast] [--only <name,...>] [--repeat N] [--json] [--keep] [--verbose] [--list]`
 *
 * Runs the drill scenarios (drills/scenarios) on a local stack of their own, injects each fault by process id, checks
 * the five invariants and prints a verdict per run: PASS, FAIL (with the failed checks) or INCONCLUSIVE (the fault
 * did not land). Progress goes to stderr; exit code 0 only when every run passed, 1 otherwise, 2 on bad usage.
 */
import { Command, InvalidArgumentError } from 'commander';
import type { DrillResult } from './harness/runner.ts';
import { runDrills } from './harness/runner.ts';
import { SCENARIOS } from './scenarios/index.ts';

const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};

const program = new Command('drill')
  .description(
    'Fault drills on a real local stack (Temporal dev server, PostgreSQL, worker processes): each scenario injects a ' +
      'fault by process id, then the harness checks accounting, no duplicates, content, liveness and replay. A run ' +
      'whose fault left no retry in history is INCONCLUSIVE, not passed. Exit code 0 only if every run passed.',
  )
  .option('--fast', 'only the fast subset (what CI runs)')
  .option('--only <names>', 'comma-separated scenario names')
  .option('--repeat <n>', 'run each scenario n times in a row', positiveInt, 1)
  .option('--json', 'print the results as one JSON document on stdout (progress stays on stderr)')
  .option('--verbose', 'print every check, passed ones too, and the retries found in history')
  .option('--keep', "keep the stacks' folders (logs, Temporal db, PostgreSQL data) for inspection")
  .option('--list', 'list the scenarios and exit')
  .addHelpText(
    'after',
    `\nScenarios:\n${SCENARIOS.map((s) => `  ${s.name.padEnd(28)} ${s.fast ? '[fast] ' : ''}${s.summary}`).join('\n')}\n`,
  )
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse(process.argv);

const opts = program.opts<{
  fast?: boolean;
  only?: string;
  repeat: number;
  json?: boolean;
  verbose?: boolean;
  keep?: boolean;
  list?: boolean;
}>();

if (opts.list) {
  for (const s of SCENARIOS) process.stdout.write(`${s.name}${s.fast ? ' (fast)' : ''}: ${s.summary}\n`);
  process.exit(0);
}

let scenarios = SCENARIOS;
if (opts.only) {
  const names = opts.only
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) {
    process.stderr.write(
      `drill: unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`,
    );
    process.exit(2);
  }
  scenarios = scenarios.filter((s) => names.includes(s.name));
}
if (opts.fast) scenarios = scenarios.filter((s) => s.fast);
if (scenarios.length === 0) {
  process.stderr.write('drill: no scenario selected\n');
  process.exit(2);
}

const started = Date.now();
const stamp = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s`;
const progress = (msg: string) => process.stderr.write(`[drill ${stamp()}] ${msg}\n`);
// Human-readable results go to stdout, or to stderr when stdout carries the JSON document.
const out = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);

const label = (r: DrillResult) => (opts.repeat > 1 ? `${r.scenario} #${r.run}` : r.scenario);

function printResult(r: DrillResult): void {
  out(
    `${r.verdict.padEnd(12)}  ${label(r).padEnd(32)} ${r.seconds.toFixed(1).padStart(6)} s${r.reason ? `   ${r.reason}` : ''}`,
  );
  if (r.fault) out(`    fault: ${r.fault}`);
  for (const c of r.checks) {
    if (!c.ok) out(`    ✗ ${c.name}: ${c.detail}`);
    else if (opts.verbose) out(`    ✓ ${c.name}: ${c.detail}`);
  }
  if (opts.verbose && r.retries.length > 0) {
    out(
      `    retries in history (${r.retries.length}): ${r.retries.slice(0, 8).join('; ')}${r.retries.length > 8 ? '; …' : ''}`,
    );
  } else if (r.verdict !== 'PASS' && r.retries.length === 0 && r.checks.every((c) => c.ok)) {
    out('    no retry in history');
  }
}

let results: DrillResult[] = [];
try {
  results = await runDrills({
    scenarios,
    repeat: opts.repeat,
    log: progress,
    keep: opts.keep ?? false,
    onResult: printResult,
  });
} catch (err) {
  process.stderr.write(`drill: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

// The table: one row per scenario, its verdicts and times in run order.
out('');
out(`${'scenario'.padEnd(30)} ${'verdicts'.padEnd(36)} times (s)`);
for (const s of scenarios) {
  const runs = results.filter((r) => r.scenario === s.name);
  out(
    `${s.name.padEnd(30)} ${runs
      .map((r) => r.verdict)
      .join(' ')
      .padEnd(36)} ${runs.map((r) => r.seconds.toFixed(0)).join(', ')}`,
  );
}
const passed = results.filter((r) => r.verdict === 'PASS').length;
out(`\n${passed} of ${results.length} run(s) passed in ${((Date.now() - started) / 1000).toFixed(0)} s`);

if (opts.json) process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
process.exit(passed === results.length ? 0 : 1);
