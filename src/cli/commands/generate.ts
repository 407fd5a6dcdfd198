/** `sluice generate inventory`: sample manifests of any size with planted defects, and their expected outcome. */
import { writeFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import type { InventoryDefectRates } from '../../profiles/inventory/generator.ts';
import { DEFECTS, generateInventoryManifest } from '../../profiles/inventory/generator.ts';
import { UsageError, log, printJson } from '../output.ts';

export function parseDefects(spec: string): InventoryDefectRates {
  const rates: InventoryDefectRates = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind, value] = part.split('=');
    if (!DEFECTS.includes(kind as keyof InventoryDefectRates)) {
      throw new UsageError(`--defects: unknown defect "${kind}"; known: ${DEFECTS.join(', ')}`);
    }
    const rate = Number(value);
    if (!(rate >= 0 && rate <= 1))
      throw new UsageError(`--defects: ${kind} needs a fraction from 0 to 1, got ${value}`);
    rates[kind as keyof InventoryDefectRates] = rate;
  }
  return rates;
}

export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description(
      'Write a sample input with planted defects, and <out>.expected.json with the outcome counts it must give.',
    )
    .argument('<profile>', 'profile to generate for (inventory)')
    .requiredOption('--out <file>', 'CSV file to write')
    .option('--records <n>', 'records to write', '10000')
    .option(
      '--defects <spec>',
      `fractions per defect, e.g. invalid_grant_code=0.01,duplicate=0.02 (kinds: ${DEFECTS.join(', ')})`,
      '',
    )
    .option('--seed <n>', 'random seed (same seed, same file)', '1')
    .option('--extra-column', 'add an unknown column, which makes every record a schema violation')
    .option('--json', 'print the expected outcome as JSON on stdout')
    .action(async (profile, opts) => {
      if (profile !== 'inventory')
        throw new UsageError(`generate: no generator for profile "${profile}" yet (inventory only)`);
      const records = Number(opts.records);
      const seed = Number(opts.seed);
      if (!Number.isSafeInteger(records) || records < 0) throw new UsageError('--records must be a whole number');
      if (!Number.isSafeInteger(seed)) throw new UsageError('--seed must be a whole number');
      const expected = await generateInventoryManifest(opts.out, {
        records,
        defects: parseDefects(opts.defects),
        seed,
        extraColumn: opts.extraColumn === true,
      });
      await writeFile(`${opts.out}.expected.json`, `${JSON.stringify(expected, null, 2)}\n`);
      if (opts.json) printJson(expected);
      else log(`wrote ${opts.out} (${records} records) and ${opts.out}.expected.json`);
    });
}
