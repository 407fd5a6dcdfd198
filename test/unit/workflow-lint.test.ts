/** The lint rules that keep workflow code deterministic really reject what they must (and accept what they must). */
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The snippets are not files of the TypeScript project, so type-aware rules are off; the import rules need no types.
const eslint = new ESLint({ overrideConfig: tseslint.configs.disableTypeChecked });
const lint = async (filePath: string, code: string) => {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.message).join('\n');
};

describe('workflow determinism lint', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'Node built-ins'],
    ["import pg from 'pg';\nexport const x = pg;\n", 'Only src/store imports pg'],
    ["import { z } from 'zod';\nexport const x = z;\n", 'Validate in activities'],
    [
      "import { createActivities } from '../activities/index.ts';\nexport const x = createActivities;\n",
      'Import activities as types only',
    ],
    [
      "import { commitChunk } from '../store/commit.ts';\nexport const x = commitChunk;\n",
      'Workflow code may import only',
    ],
    ['export const x = process.env.HOME;\n', 'process'],
  ])(
    'rejects %j in src/workflows',
    async (code, message) => {
      expect(await lint('src/workflows/bad.ts', code)).toContain(message);
    },
    30_000,
  );

  it('accepts the imports workflow code is allowed', async () => {
    const code =
      "import { proxyActivities } from '@temporalio/workflow';\n" +
      "import type { SluiceActivities } from '../activities/index.ts';\n" +
      "import { TASK_QUEUE } from '../shared/task-queues.ts';\n" +
      "export const acts = proxyActivities<SluiceActivities>({ startToCloseTimeout: '1s' });\nexport const q = TASK_QUEUE;\n";
    expect(await lint('src/workflows/good.ts', code)).toBe('');
  }, 30_000);
});
