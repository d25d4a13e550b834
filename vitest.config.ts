import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    // Each file gets its own database (cloned from a migrated template) and its own queue prefix.
    pool: 'forks',
    testTimeout: 20_000,
    // Polls end as soon as their condition holds; the long ceiling only matters on a loaded machine.
    expect: { poll: { timeout: 10_000, interval: 20 } },
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
