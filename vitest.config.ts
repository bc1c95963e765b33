import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 30_000,
    // Two cores: two workers keep numerical test files from starving each other.
    maxWorkers: 2,
  },
});
