/** `sluice reference import|list`: the reference data profiles classify against (rates, HS codes, promotions). */
import type { Command } from '@commander-js/extra-typings';
import { basename } from 'node:path';
import { loadEnv } from '../../config/env.ts';
import { referenceKinds } from '../../profiles/index.ts';
import { sha256OfFile } from '../../store/blobs.ts';
import { createDb } from '../../store/db.ts';
import { migrate } from '../../store/migrate.ts';
import { importReference, listReferenceImports } from '../../store/reference.ts';
import { log, printJson, UsageError } from '../output.ts';

export function registerReferenceCommands(program: Command): void {
  const kinds = referenceKinds();
  const kindList = [...kinds].map(([kind, k]) => `  ${kind.padEnd(16)} (${k.profile}) ${k.description}`).join('\n');
  const reference = program
    .command('reference')
    .description('Reference data that profiles classify against: import a file, list what is loaded.');

  reference
    .command('import')
    .description(`Replace the reference data of one kind with a file's entries (in one transaction).`)
    .argument('<kind>', 'what the file holds (see below)')
    .argument('<file>', 'the file to import')
    .option('--json', 'print the import record as JSON')
    .addHelpText('after', `\nKinds:\n${kindList}`)
    .action(async (kind, file, opts) => {
      const def = kinds.get(kind);
      if (!def) throw new UsageError(`unknown reference kind "${kind}"; known kinds:\n${kindList}`);
      const db = createDb(loadEnv().databaseUrl, { max: 2, applicationName: 'sluice-reference' });
      try {
        await migrate(db);
        const sha256 = await sha256OfFile(file);
        const fileName = basename(file);
        let last = Date.now();
        const record = await importReference(db, kind, { fileName, sha256 }, def.read(file, fileName), (n) => {
          if (Date.now() - last > 2000) {
            last = Date.now();
            log(`  ${n} entries...`);
          }
        });
        if (opts.json) printJson(record);
        else log(`imported ${record.entries} ${kind} entries from ${fileName} (sha256 ${sha256.slice(0, 12)}…)`);
      } finally {
        await db.end();
      }
    });

  reference
    .command('list')
    .description('The reference data loaded, by kind: file, SHA-256, entries, when.')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const db = createDb(loadEnv().databaseUrl, { max: 2, applicationName: 'sluice-reference' });
      try {
        await migrate(db);
        const imports = await listReferenceImports(db);
        if (opts.json) return printJson(imports);
        if (imports.length === 0) log('no reference data loaded; kinds:\n' + kindList);
        for (const i of imports) {
          process.stdout.write(
            `${i.kind.padEnd(16)} ${String(i.entries).padStart(8)}  ${i.fileName}  ${i.importedAt}\n`,
          );
        }
      } finally {
        await db.end();
      }
    });
}
