// ESLint flat config. Workflows run in Temporal's deterministic sandbox: they must not
// import Node built-ins or any package that does I/O (see the override below).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import { builtinModules } from 'node:module';

/** Reading `process.env.X` anywhere but lib/config.ts (passing `...process.env` on is fine). */
const READ_ENV = [
  {
    selector:
      "MemberExpression[object.type='MemberExpression'][object.object.name='process'][object.property.name='env']",
    message: 'Read environment variables in lib/config.ts (and add them to the README table).',
  },
];

/**
 * An async function in `.then(onFulfilled, onRejected)`: its own rejection reaches no
 * handler (`onRejected` only sees the promise before), yet no-floating-promises counts
 * `.then(a, b)` as handled, so the result is never checked. On a server event (the
 * WebSocket upgrade) that rejection ends the process. Write an async function and
 * `.catch()` its promise instead.
 */
const ASYNC_THEN = [
  {
    selector:
      "CallExpression[callee.property.name='then'][arguments.length=2] > :matches(ArrowFunctionExpression, FunctionExpression)[async=true]",
    message:
      'An async callback in .then() rejects into nothing: use an async function and .catch() its promise.',
  },
];

/**
 * The layers, lowest first (docs/ARCHITECTURE.md "Layers"): a folder imports from its own
 * layer and the ones below, never from above, and product code never imports the test
 * harness. Checked by import-x/no-restricted-paths (below) and import-x/no-cycle.
 */
const LAYERS = [
  ['contracts'],
  ['lib', 'models'],
  ['store', 'users', 'usage', 'prompt', 'tools', 'local-llm', 'local-mcp'],
  ['activities', 'workflows'],
  ['api', 'workers'],
  ['client', 'web'],
  ['testkit', 'scripts', 'bench'],
  ['test'],
];
const PRODUCT = LAYERS.slice(0, 6).flat();
const layerZones = [
  ...LAYERS.slice(0, 5).flatMap((layer, i) =>
    layer.map((folder) => ({
      target: `./${folder}`,
      from: LAYERS.slice(i + 1)
        .flat()
        .map((f) => `./${f}`),
      message: `${folder}/ is in layer ${i}: it imports only from its layer and those below (eslint.config.mjs LAYERS).`,
    })),
  ),
  ...['client', 'web'].map((folder) => ({
    target: `./${folder}`,
    from: LAYERS.flat()
      .filter((f) => !['contracts', 'client', folder].includes(f))
      .map((f) => `./${f}`),
    message:
      'The client library and the web app depend on contracts/ (and the web app on client/) only.',
  })),
  ...['testkit', 'scripts', 'bench'].map((folder) => ({
    target: `./${folder}`,
    from: ['./test'],
    message: 'Shared harness code lives in testkit/, not test/.',
  })),
  {
    target: PRODUCT.map((f) => `./${f}`),
    from: ['./test', './testkit', './bench', './scripts'],
    message: 'Product code never imports tests, the test harness, benchmarks or scripts.',
  },
];

const ioPackages = ['pg', 'ioredis', 'openai', 'tiktoken', 'ws', 'express', 'prom-client'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', '.tools/', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // Resolves `../store/db` to store/db.ts: without it import-x sees no TypeScript file
    // and its import rules (layers, cycles) check nothing.
    settings: {
      'import-x/resolver-next': [
        createNodeResolver({ extensions: ['.ts', '.js', '.mjs', '.json'] }),
      ],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/extensions': ['.ts', '.js', '.mjs'],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    // Failure types come from the catalog (contracts/errors.ts): raise with `failure()`,
    // list non-retryable types as FAILURE_TYPES constants, so a typo is a compile error.
    files: ['**/*.ts'],
    ignores: ['contracts/errors.ts', 'lib/config.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "MemberExpression[object.name='ApplicationFailure'][property.name=/^(create|retryable|nonRetryable)$/]",
          message: 'Raise failures with failure(FAILURE_TYPES.X, ...) from contracts/errors.ts.',
        },
        {
          selector: "Property[key.name='nonRetryableErrorTypes'] Literal",
          message: 'List non-retryable types as FAILURE_TYPES constants from contracts/errors.ts.',
        },
        ...READ_ENV,
        ...ASYNC_THEN,
      ],
    },
  },
  {
    // lib/config.ts is the one place that reads environment variables.
    files: ['contracts/errors.ts'],
    rules: { 'no-restricted-syntax': ['error', ...READ_ENV, ...ASYNC_THEN] },
  },
  {
    files: ['lib/config.ts'],
    rules: { 'no-restricted-syntax': ['error', ...ASYNC_THEN] },
  },
  {
    files: ['workflows/**/*.ts', 'contracts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), ...ioPackages].map(
            (name) => ({ name, message: 'Workflows are deterministic: no Node built-ins or I/O.' }),
          ),
          patterns: [
            {
              group: [
                '../activities/*',
                '../api/*',
                '../lib/*',
                '../store/*',
                '../users/*',
                '../usage/*',
                '../prompt/*',
                '../local-llm/*',
              ],
              allowTypeImports: true,
              message: 'Workflows import activities and other I/O code with `import type` only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The client library and the web app run in browsers too: no Node built-ins, no
    // server packages (the WebSocket constructor is an option).
    files: ['client/**/*.ts', 'web/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`), ...ioPackages].map(
            (name) => ({
              name,
              message: 'The client runs in browsers: no Node built-ins or server packages.',
            }),
          ),
          patterns: [
            {
              group: [
                '../api/*',
                '../lib/*',
                '../store/*',
                '../users/*',
                '../usage/*',
                '../prompt/*',
                '../local-llm/*',
                '../activities/*',
                '../workers/*',
                '../workflows/*',
              ],
              message: 'The client depends on the contract (contracts/) only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'testkit/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Tests read JSON answers of the public contract: `any` there is the point.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
);
