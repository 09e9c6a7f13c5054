// Prints the shape of src/'s import graph (modules, edges, cross-layer edges, cycles, rule
// violations) from dependency-cruiser's JSON, for docs/architecture.md's before/after figures.
import { execFileSync } from 'node:child_process';

const json = execFileSync(
  'npx',
  ['depcruise', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
  { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] },
);
const { modules, summary } = JSON.parse(json);
// src/router.ts (before the move) belongs to the router layer; errors.ts and options.ts are the
// shared leaves every layer may import, and index.ts is the public surface, so neither counts.
const layerOf = (path) =>
  path === 'src/router.ts' ? 'router' : (/^src\/([^/]+)\//.exec(path)?.[1] ?? 'shared');
let edges = 0;
const crossLayer = new Map();
const cycles = new Set();
for (const module of modules) {
  for (const dependency of module.dependencies) {
    edges += 1;
    const from = layerOf(module.source);
    const to = layerOf(dependency.resolved);
    if (from !== to && to !== 'shared' && module.source !== 'src/index.ts') {
      const arrow = `${from} → ${to}`;
      crossLayer.set(arrow, (crossLayer.get(arrow) ?? 0) + 1);
    }
    if (dependency.circular) cycles.add([...dependency.cycle.map((step) => step.name ?? step)].sort().join(' '));
  }
}
const crossEdges = [...crossLayer.values()].reduce((sum, count) => sum + count, 0);
console.log(`modules ${modules.length}, import edges ${edges}`);
console.log(`cross-layer edges ${crossEdges} over ${crossLayer.size} layer arrows`);
for (const [arrow, count] of [...crossLayer].sort()) console.log(`  ${arrow}: ${count}`);
console.log(`distinct import cycles ${cycles.size}`);
console.log(`rule violations ${summary.error}`);
