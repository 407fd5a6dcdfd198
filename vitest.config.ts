import { defineConfig } from 'vitest/config';

// Temporal's native bridge needs the forks pool (sdk-typescript #876). Integration tests share one Temporal dev
// server and one PostgreSQL cluster, started once by test/helpers/global-setup.ts.
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Integration files share one Temporal server and one database: run files one at a time.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        // The fast drill subset (drills/, `npm run drill -- --fast`): the harness starts a stack of its own.
        test: {
          name: 'drills',
          include: ['test/drills/**/*.test.ts'],
          testTimeout: 15 * 60_000,
          hookTimeout: 15 * 60_000,
        },
      },
    ],
  },
});
