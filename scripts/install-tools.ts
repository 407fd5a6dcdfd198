// Installs the tools the local stack needs that npm does not ship (the Temporal CLI) and prints where they are.
// Run: node --import tsx scripts/install-tools.ts
import { execFileSync } from 'node:child_process';
import { resolveTemporalCli } from '../src/stack/temporal-cli.ts';

try {
  const cli = await resolveTemporalCli({ log: (msg) => console.error(msg) });
  const version = execFileSync(cli, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`temporal: ${cli}\n${version}`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
