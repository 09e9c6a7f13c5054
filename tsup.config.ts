import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'postgres/index': 'src/storage/postgres/index.ts',
    's3/index': 'src/storage/s3/index.ts',
    // The `model-rollout` command (package.json "bin"); its chunks are the library's own.
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  // stripInternal: a declaration tagged @internal (helpers, the analysis engine's steering, resolved
  // options) is left out of the published .d.ts, so the types show only what a user may rely on.
  // test/package/exports.test.ts fails if one appears there.
  dts: { compilerOptions: { stripInternal: true } },
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
