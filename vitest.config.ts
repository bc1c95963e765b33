import { defineConfig } from 'vitest/config';

/**
 * The workspace packages' exports name their TypeScript sources under this condition, so the tests run
 * the sources as they are (plain Node gets the built dist/ JavaScript). The CLI that tests start in a
 * child process runs dist/: the global setup brings it up to date first (`tsc -b`, quick when it is).
 */
const SOURCE_CONDITION = '@diffgraph/source';

export default defineConfig({
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'development|production'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['./scripts/vitest-build.ts'],
    testTimeout: 30_000,
    // Two cores: two workers keep numerical test files from starving each other.
    maxWorkers: 2,
  },
});
