import { defineConfig } from 'vite';

/** The editor bundle (packages/editor/dist), served by `diffgraph serve` at `/`. */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  // The workspace packages' TypeScript sources (their exports' "@diffgraph/source" condition), so the
  // bundle builds without their dist/ first; then vite's default browser conditions.
  resolve: { conditions: ['@diffgraph/source', 'module', 'browser', 'development|production'] },
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      onwarn(warning, warn) {
        // litegraph's number prompt uses eval(); the editor replaces that prompt (src/graph/nodes.ts) and the CSP forbids eval.
        if (warning.code === 'EVAL' && String(warning.id ?? warning.loc?.file ?? '').includes('litegraph')) return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: { '/api': { target: 'http://127.0.0.1:8188', ws: true } },
    fs: { allow: ['../..'] },
  },
});
