import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'postgres/index': 'src/storage/postgres/index.ts',
    's3/index': 'src/storage/s3/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  // No sourcemaps in the package: the builds are unminified, so stack traces already point at
  // readable code, and the maps were two thirds of the tarball.
  sourcemap: false,
  clean: true,
  target: 'node20',
  // Shared chunks: model-rollout/testing imports the same DeploymentMonitor, ModelRouter and error
  // classes as the main entry instead of bundling copies, so instanceof holds across the two.
  splitting: true,
  treeshake: true,
});
