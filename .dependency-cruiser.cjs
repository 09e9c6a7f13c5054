/**
 * The dependency rules of docs/architecture.md ("Layers and the arrows between them"), checked by
 * `npm run depcheck` inside `npm test`. A rule that names a layer forbids every file in it from
 * importing any file of the other, so a new file in a layer is covered without editing this list.
 */
const layer = (name) => `^src/${name}/`;
const forbid = (from, to, why) => ({
  name: `no-${from}-to-${to}`,
  comment: why,
  severity: 'error',
  from: { path: layer(from) },
  to: { path: layer(to) },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Dependencies point one way: no file may reach itself through its imports.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    forbid('routing', 'analysis', 'Policies are pure; the analysis steers them, never the reverse (Argo Rollouts).'),
    forbid('routing', 'predict', 'A policy picks a version; it never loads or runs a model.'),
    forbid('routing', 'storage', 'route() does no I/O.'),
    forbid('routing', 'monitor', 'A policy knows nothing of monitors; the analysis reads them.'),
    forbid('routing', 'router', 'The router uses policies, not the reverse.'),
    forbid('stats', 'routing', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('stats', 'analysis', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('stats', 'monitor', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('stats', 'predict', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('stats', 'registry', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('stats', 'storage', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('stats', 'router', 'stats is pure mathematics and imports nothing of ours.'),
    forbid('storage', 'registry', 'Storage moves bytes; it knows nothing of models and versions.'),
    forbid('predict', 'routing', 'Predictors run models; they do not choose versions.'),
    forbid('monitor', 'predict', 'The monitor records numbers; it never runs a model.'),
    forbid('registry', 'routing', 'The registry stores versions; it does not route.'),
    forbid('analysis', 'router', 'The analysis steers a policy through a narrow interface, not through the router.'),
    forbid('analysis', 'predict', 'The analysis judges numbers, not models.'),
    forbid('monitor', 'analysis', 'The analysis reads the monitor, not the reverse.'),
    forbid('monitor', 'routing', 'The monitor records per version; it does not know policies.'),
    forbid('monitor', 'router', 'The router feeds the monitor, not the reverse.'),
    forbid('predict', 'router', 'The router uses the pool, not the reverse.'),
    forbid('predict', 'analysis', 'Predictors run models; they are not judged from inside.'),
    forbid('analysis', 'fleet', 'Fleet mode drives the analysis through storage; the analysis knows nothing of replicas.'),
    forbid('routing', 'fleet', 'Policies are pure; fleet mode restores them from storage, never the reverse.'),
    forbid('monitor', 'fleet', 'The monitor records numbers; fleet mode publishes and merges its snapshots.'),
    forbid('storage', 'fleet', 'Storage moves bytes; it knows nothing of deployments.'),
    forbid('fleet', 'router', 'Fleet mode keeps state in step beside the router; route() never waits on it.'),
    forbid('fleet', 'predict', 'Fleet mode shares rollout state, not models.'),
    forbid('cli', 'router', 'The command steers stored state; it never serves a request.'),
    forbid('cli', 'predict', 'The command never runs a model (register validates through the registry).'),
    forbid('cli', 'analysis', 'The command shows the numbers analyses stored; it does not judge.'),
    {
      name: 'no-library-to-cli',
      comment: 'The model-rollout command sits on top: cli → fleet, registry; nothing in the library imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-library-to-testing',
      comment: 'model-rollout/testing builds on the library; the library never imports its test helpers.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/testing/' },
      to: { path: '^src/testing/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
