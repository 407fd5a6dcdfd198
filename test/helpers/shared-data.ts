/**
 * The team's shared data (../shared beside the repository: never copied into it). A clone elsewhere finds it through
 * SLUICE_SHARED_DIR or /work/shared; without it the tests that need it fail loudly with the way to fix it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export function sharedDataFile(relative: string): string {
  const roots = [process.env.SLUICE_SHARED_DIR, path.join(REPO, '../shared'), '/work/shared'].filter(
    (r): r is string => r !== undefined && r !== '',
  );
  for (const root of roots) {
    const file = path.join(root, relative);
    if (existsSync(file)) return file;
  }
  throw new Error(
    `shared data file ${relative} not found under ${roots.join(', ')}: set SLUICE_SHARED_DIR to the shared folder ` +
      '(the one holding data/hs2022/)',
  );
}
