import { defineConfig } from 'tsup';

export default defineConfig({
  // The worker is its own entry: runSweep starts it with new Worker(new URL('./worker.js', import.meta.url)).
  entry: ['src/index.ts', 'src/worker.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  clean: true,
  target: 'node20',
  sourcemap: true,
});
