// Lint: typescript-eslint's strict, type-aware rules (strictTypeChecked) over everything TypeScript
// the repo ships or runs (src, test, bench, the example plugins), and eslint's recommended rules over
// its JavaScript (scripts, config files). Options that loosen a rule, and rules turned off,
// say why; a single line that must break a rule says why in its eslint-disable comment.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Build output (dist-*/ are local copies of old builds, ignored by git too) and generated files.
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'examples/**/dist/**', 'examples/**/node_modules/**', 'schema/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // noUncheckedIndexedAccess types every indexed read as possibly undefined. In a loop bounded
      // by the length (the hot path is full of them: header lists, policy chains) `list[i]!` states
      // an invariant the compiler cannot see, at no cost; this rule would turn each into a runtime
      // branch. Other assertions are reviewed like any other code.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // node:test's test()/describe()/hooks return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      // Numbers and booleans print unambiguously; objects, undefined and null in a message are the
      // mistakes this rule is for.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/restrict-plus-operands': ['error', { allowNumberAndString: true }],
      // `() => void x()` and `(v) => resolve(v)` as callbacks are clear, and so is
      // `if (bad) return this.fail(...)` for an early exit from a function that returns nothing.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
    },
  },
  // An example plugin imports the published `gatehouse`; for lint its types come from this
  // checkout's source (tsconfig.examples.json maps the name), not from a packed install.
  {
    files: ['examples/plugins/*/src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false, project: './tsconfig.examples.json' } },
  },
  // JavaScript here runs on Node (scripts, config files); it is not type-checked.
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], languageOptions: { globals: globals.node } },
);
