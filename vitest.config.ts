import { defineConfig } from 'vitest/config';

/**
 * The cluster pass (issue #16): these files run a second time against a local Redis Cluster of 3 masters with a
 * replica each (test/support/cluster-global-setup.ts): consistency and idempotency under concurrency, the
 * property-based model, carts, the sold-out flags (sharded pub/sub), checkout over HTTP and its recovery. The files
 * of `clusterOnly` start clusters of their own (the failover test and the quick chaos run on a cluster kill masters
 * of theirs) and run only there.
 */
const clusterPass = ['test/races.test.ts', 'test/model.property.test.ts', 'engine/holds/carts.test.ts', 'engine/redis/resends.test.ts',
  'engine/redis/failover-retry.test.ts',
  'engine/catalog/sold-out.test.ts',
  'test/cart-confirms.test.ts', 'test/recovery.test.ts', 'test/api.test.ts'];
const clusterOnly = ['test/cluster.test.ts', 'test/failover.test.ts', 'chaos/chaos-cluster.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['{engine,api,workers,settings,services,store,payments,app,reconciler,chaos}/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: clusterOnly,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: { name: 'cluster', include: [...clusterPass, ...clusterOnly], globalSetup: ['test/support/cluster-global-setup.ts'] },
      },
    ],
  },
});
