/** `sluice generate <profile>`: sample inputs of any size with planted defects, and the outcome they must give. */
import { writeFile } from 'node:fs/promises';
import type { Command } from '@commander-js/extra-typings';
import { profiles, getProfile } from '../../profiles/index.ts';
import type { ProfileGenerator } from '../../profiles/types.ts';
import { UsageError, log, printJson } from '../output.ts';

export function parseDefects(spec: string, generator: Pick<ProfileGenerator, 'defects'>): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind = '', value] = part.split('=');
    if (!generator.defects.includes(kind)) {
      throw new UsageError(`--defects: unknown defect "${kind}"; known: ${generator.defects.join(', ')}`);
    }
    const rate = Number(value);
    if (!(rate >= 0 && rate <= 1))
      throw new UsageError(`--defects: ${kind} needs a fraction from 0 to 1, got ${value}`);
    rates[kind] = rate;
  }
  return rates;
}

const generatorList = (): string =>
  Object.values(profiles)
    .flatMap((p) =>
      p.generator
        ? [`  ${p.id.padEnd(12)} formats ${p.generator.formats.join(', ')}; defects ${p.generator.defects.join(', ')}`]
        : [],
    )
    .join('\n');

export function registerGenerateCommand(program: Command): void {
  program
    .command('generate')
    .description(
      'Write a sample input with planted defects, <out>.expected.json with the outcome it must give, and any ' +
        'reference data its records need.',
    )
    .argument('<profile>', 'profile to generate for')
    .requiredOption('--out <file>', 'file to write')
    .option('--format <format>', "input format (default: the generator's first)")
    .option('--records <n>', 'records to write', '10000')
    .option('--defects <spec>', 'fractions per defect, e.g. duplicate=0.02 (default: a few of each)')
    .option('--seed <n>', 'random seed (same seed, same file)', '1')
    .option('--json', 'print the expected outcome as JSON on stdout')
    .addHelpText('after', () => `\nGenerators:\n${generatorList()}`)
    .action(async (profileId, opts) => {
      const generator = getProfile(profileId).generator;
      if (!generator) throw new UsageError(`generate: profile "${profileId}" has no generator`);
      const records = Number(opts.records);
      const seed = Number(opts.seed);
      if (!Number.isSafeInteger(records) || records < 0) throw new UsageError('--records must be a whole number');
      if (!Number.isSafeInteger(seed)) throw new UsageError('--seed must be a whole number');
      if (opts.format !== undefined && !generator.formats.includes(opts.format)) {
        throw new UsageError(`--format: ${profileId} generates ${generator.formats.join(', ')}, not ${opts.format}`);
      }
      const options = {
        records,
        seed,
        defects: opts.defects === undefined ? generator.defaultDefects : parseDefects(opts.defects, generator),
        ...(opts.format ? { format: opts.format } : {}),
      };
      const expected = await generator.generate(opts.out, options);
      await writeFile(`${opts.out}.expected.json`, `${JSON.stringify(expected, null, 2)}\n`);
      const references = (await generator.references?.(opts.out, options)) ?? {};
      if (opts.json) printJson(expected);
      else log(`wrote ${opts.out} (${records} records) and ${opts.out}.expected.json`);
      for (const [kind, file] of Object.entries(references))
        log(`reference data: sluice reference import ${kind} ${file}`);
    });
}
