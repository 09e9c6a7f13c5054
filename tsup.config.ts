import path from 'node:path';
import { defineConfig } from 'tsup';
import type { Plugin } from 'esbuild';

const SRC = path.resolve('src');
const CLI = path.join(SRC, 'cli');

/**
 * The `model-rollout` command loads the library through the package's own built entries
 * (`./index.js`, `./postgres/index.js`, `./s3/index.js`), as a user's program does, instead of
 * pulling library modules into the shared chunks. The chunks then hold only what the library's
 * entries share, so each class stays in one file the entries and the bin all load. The shared
 * helpers of src/errors.ts (the bin's one-line messages use `describeValue`, which the entries do
 * not export) are bundled as a chunk like any module two entries share.
 */
function cliThroughPackageEntries(): Plugin {
  return {
    name: 'cli-through-package-entries',
    setup(build) {
      // The output's own extension (.js or .cjs): tsup builds split CommonJS through esbuild's ESM
      // format, so `format` does not tell the two apart.
      const extension = build.initialOptions.outExtension?.['.js'] ?? '.js';
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (!args.importer.startsWith(CLI + path.sep)) return undefined;
        const target = path.resolve(args.resolveDir, args.path);
        if (target.startsWith(CLI + path.sep) || target === path.join(SRC, 'errors.js')) return undefined;
        const entry = target.startsWith(path.join(SRC, 'storage', 'postgres') + path.sep)
          ? 'postgres/index'
          : target.startsWith(path.join(SRC, 'storage', 's3') + path.sep)
            ? 's3/index'
            : 'index';
        return { path: `./${entry}${extension}`, external: true };
      });
    },
  };
}

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'postgres/index': 'src/storage/postgres/index.ts',
    's3/index': 'src/storage/s3/index.ts',
    // The `model-rollout` command (package.json "bin"), on the library's built entries (see above).
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  esbuildPlugins: [cliThroughPackageEntries()],
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
