// Lint keeps workflow code deterministic: files under src/workflows and src/shared are bundled into Temporal's
// sandbox, so they may import only @temporalio/workflow, @temporalio/common, each other, and activities as types.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', '.sluice/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'process', 'Buffer', 'setImmediate', 'require'],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins.' })),
            { name: 'pg', message: 'Only src/store imports pg; call an activity.' },
            { name: 'zod', message: 'Validate in activities or the client, not in workflow code.' },
            { name: '@temporalio/activity', message: 'Not available in the workflow sandbox.' },
            { name: '@temporalio/client', message: 'Not available in the workflow sandbox.' },
            { name: '@temporalio/worker', message: 'Not available in the workflow sandbox.' },
          ],
          patterns: [
            {
              group: ['**/activities', '**/activities/**', '**/activities/*.ts'],
              allowTypeImports: true,
              message: 'Import activities as types only (import type) and call them through proxyActivities.',
            },
            {
              group: [
                '**/store/**',
                '**/formats/**',
                '**/profiles/**',
                '**/client/**',
                '**/workers/**',
                '**/cli/**',
                '**/stack/**',
                '**/config/**',
              ],
              allowTypeImports: true,
              message: 'Workflow code may import only @temporalio/workflow, @temporalio/common and src/shared.',
            },
            {
              group: ['csv-parse', 'csv-parse/*', 'pg-copy-streams', 'yaml'],
              message: 'Parsers belong in activities.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/store/**', 'src/workflows/**', 'src/shared/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: 'pg', message: 'src/store is the only importer of pg.', allowTypeImports: true }] },
      ],
    },
  },
);
