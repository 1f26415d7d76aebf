import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{engine,api,workers,settings,services,store,payments,app,reconciler,chaos}/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
