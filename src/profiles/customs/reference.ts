/**
 * Reference kind `hs`: the Harmonized System nomenclature the user loads (`sluice reference import hs <file>`), e.g.
 * the WCO's HS 2022 (`section,hscode,description,parent,level`) or a national tariff schedule of the same shape.
 * Entries are keyed by their code (chapters, headings, subheadings; national 8- and 10-digit lines too); a national
 * line whose 6-digit subheading is not listed gives that subheading an entry of its own, so classification, which
 * checks the first six digits, accepts a schedule of national lines alone.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { ReferenceEntry, ReferenceKind } from '../types.ts';
import { InputError } from '../types.ts';

export const HS_REFERENCE_KIND = 'hs';

/** What an `hs` entry holds (keyed by its code). */
export interface HsEntry {
  /** Roman numeral of the HS section (`XVI`), when the file has a `section` column. */
  section?: string;
  description?: string;
  /** Code of the parent entry. */
  parent?: string;
  /** Digits of the code (2 chapter, 4 heading, 6 subheading, 8/10 national line). */
  level: number;
}

/** Accepted names of the code column (the shared HS 2022 file says `hscode`). */
const CODE_COLUMNS = ['hscode', 'hs_code', 'code'];
/** Aggregate rows (the HS 2022 file ends with `TOTAL`): no commodity, skipped. */
const AGGREGATE = /^total$/i;

async function* readHsNomenclature(file: string, fileName: string): AsyncGenerator<ReferenceEntry> {
  const parser = createReadStream(file).pipe(
    parse({ bom: true, info: true, skip_empty_lines: true, relax_column_count: false, trim: true }),
  );
  let header: string[] | undefined;
  let codeAt = -1;
  const seen = new Set<string>();
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (header === undefined) {
        header = record.map((h) => h.toLowerCase());
        codeAt = header.findIndex((h) => CODE_COLUMNS.includes(h));
        if (codeAt < 0) {
          throw new InputError(
            `${fileName}: line ${line}: an HS nomenclature needs a code column (${CODE_COLUMNS.join(' or ')}); ` +
              `the header is ${record.join(',')}`,
            { file: fileName, line },
          );
        }
        continue;
      }
      const cell = (name: string): string | undefined => {
        const at = header!.indexOf(name);
        const value = at < 0 ? undefined : record[at];
        return value === undefined || value === '' ? undefined : value;
      };
      const raw = record[codeAt] ?? '';
      if (AGGREGATE.test(raw)) continue;
      const code = raw.replace(/[\s.]/g, '');
      if (!/^\d+$/.test(code) || code.length < 2 || code.length > 10) {
        throw new InputError(
          `${fileName}: line ${line}: HS code ${JSON.stringify(raw)} is not 2 to 10 digits`,
          { file: fileName, line, field: header[codeAt] },
          'schema_violation',
        );
      }
      const data: HsEntry = {
        ...(cell('section') === undefined ? {} : { section: cell('section')! }),
        ...(cell('description') === undefined ? {} : { description: cell('description')! }),
        ...(cell('parent') === undefined ? {} : { parent: cell('parent')! }),
        level: code.length,
      };
      if (code.length > 6 && !seen.has(code.slice(0, 6))) {
        seen.add(code.slice(0, 6));
        yield { key: code.slice(0, 6), data: { ...data, level: 6, parent: code.slice(0, 4) } };
      }
      seen.add(code);
      yield { key: code, data };
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${fileName}: not a readable CSV nomenclature: ${(err as Error).message}`, { file: fileName });
  }
  if (header === undefined) throw new InputError(`${fileName}: the HS nomenclature is empty`, { file: fileName });
}

export const hsReference: ReferenceKind = {
  description:
    'Harmonized System nomenclature, CSV with a hscode column (and section, description, parent, level), ' +
    'e.g. HS 2022 or a national tariff schedule',
  read: readHsNomenclature,
};
