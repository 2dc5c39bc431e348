// Layering rules for src/ (issue 16, part 4), checked by test/layering.test.ts on every test run.
// Violations that exist today are listed in .dependency-cruiser-known-violations.json: they do
// not fail the run, anything new does. The list only ever shrinks; regenerate it after removing
// one with `npx depcruise src --config .dependency-cruiser.cjs --output-type baseline > .dependency-cruiser-known-violations.json`.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'dataplane-not-admin',
      severity: 'error',
      comment: 'The data plane never imports the admin API (decision 0001).',
      from: { path: '^src/(dataplane|edge|upstream|policies|identity|store|observability|config)/' },
      to: { path: '^src/admin/' },
    },
    {
      name: 'dataplane-not-controlplane',
      severity: 'error',
      comment: 'The data plane never imports the config store (docs/cluster.md): it serves whatever config it is handed.',
      from: { path: '^src/(dataplane|edge|upstream|policies|identity|store|observability|config|validation)/' },
      to: { path: '^src/controlplane/' },
    },
    {
      name: 'config-depends-on-nothing-above',
      severity: 'error',
      comment: 'config sits below the layers that use it: it may import only itself and the shared bottom (errors, version).',
      from: { path: '^src/config/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(config/|errors\\.ts|version\\.ts)' },
    },
    {
      name: 'core-names-no-policy',
      severity: 'error',
      comment:
        'The core never names a specific policy (decision 0004): it reaches every type through the registry and its definition hooks. policies/transform is a shared library, not a type.',
      from: { path: '^src/(dataplane|runtime|upstream|edge|identity|store|observability)/', pathNot: '\\.test\\.ts$' },
      to: { path: '^src/policies/[^/]+/', pathNot: '^src/policies/transform/' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'The CLI is the top of the stack.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-test',
      severity: 'error',
      comment: 'Shipped code never imports test helpers.',
      from: { path: '^src/', pathNot: '\\.test\\.ts$' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^dist/|\\.test\\.ts$)' },
  },
};
