/** The `sluice` command line. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { ConfigError } from '../config/batch-config.ts';
import { registerAuditCommand } from './commands/audit.ts';
import { registerBatchCommands, registerOperatorCommands } from './commands/batches.ts';
import { registerDemoCommand } from './commands/demo.ts';
import { registerGenerateCommand } from './commands/generate.ts';
import { registerReferenceCommands } from './commands/reference.ts';
import { registerReviewCommands } from './commands/review.ts';
import { registerStackCommands } from './commands/stack.ts';
import { CommandFailed, EXIT, UsageError } from './output.ts';

const program = new Command('sluice')
  .description(
    'Durable batch ingestion on Temporal: parse, validate, classify and commit every record exactly once; ' +
      'hold the rest for review. Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, DATABASE_URL (default: the ' +
      'local stack of `sluice dev`), SLUICE_HOME (local data, default ./.sluice).',
  )
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride()
  .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

registerStackCommands(program);
registerBatchCommands(program);
registerOperatorCommands(program);
registerReviewCommands(program);
registerAuditCommand(program);
registerDemoCommand(program);
registerGenerateCommand(program);
registerReferenceCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors with 2.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof UsageError || err instanceof ConfigError) {
    process.stderr.write(`sluice: ${err.message}\n`);
    process.exitCode = EXIT.usage;
  } else if (err instanceof CommandFailed) {
    process.stderr.write(`sluice: ${err.message}\n`);
    process.exitCode = EXIT.failed;
  } else {
    process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.SLUICE_DEBUG) console.error(err);
    process.exitCode = EXIT.failed;
  }
}
