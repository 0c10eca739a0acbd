// Lint: typescript-eslint's type-checked rules, plus the import boundaries of STYLE.md as zones.
// Type-only exemptions need typescript-eslint's no-restricted-imports (allowTypeImports): the
// path zones of eslint-plugin-import-x cannot tell `import type` apart.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = {
  regex: '^(node:|(fs|path|os|crypto|child_process|http|https|net|url|util|stream|zlib|events|module|worker_threads)$)',
  message: 'No Node built-ins here (Temporal sandbox / pure domain).',
};
const layer = (dir, message, allowTypeImports = false) => ({ regex: `(^|/)${dir}/`, message, allowTypeImports });

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'bench/results/', 'test/histories/', 'web/dist/', '.quorum/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // The TypeScript parser for the files an import leads to (import-x/no-cycle follows them).
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      'import-x/no-cycle': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            NODE_BUILTINS,
            ...['workflows', 'activities', 'infra', 'api', 'app', 'worker', 'web', 'scripts', 'bench', 'test'].map((dir) =>
              layer(dir, 'domain/ is pure: it imports nothing else of the project.'),
            ),
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            NODE_BUILTINS,
            layer('activities', 'Workflows may import activity types only (import type).', true),
            ...['infra', 'api', 'app', 'worker', 'web', 'scripts', 'bench', 'test'].map((dir) =>
              layer(dir, 'Workflows import domain/ and activity types only.'),
            ),
            {
              regex: '^(?!@temporalio/(workflow|common)$|\\.|\\.\\./domain/)',
              message: 'Workflows import only @temporalio/workflow, @temporalio/common, domain/ and activity types.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['infra/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...['api', 'app', 'activities', 'worker', 'web'].map((dir) => layer(dir, 'infra/ is the bottom layer: it imports domain/ and nothing above it.')),
            { regex: '/workflows/(?!definitions\\.js$)', message: 'infra/ may import only the wire names in workflows/definitions.ts.' },
          ],
        },
      ],
    },
  },
  {
    files: ['api/**/*.ts', 'app/**/*.ts', 'activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '/workflows/(?!definitions\\.js$)',
              message: 'Never import workflow code; start workflows by reference with the types in workflows/definitions.ts.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['app/**/*.ts', 'activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            layer('api', 'Use-cases and activities do not depend on the HTTP layer.'),
            { regex: '/workflows/(?!definitions\\.js$)', message: 'Never import workflow code; use workflows/definitions.ts.' },
          ],
        },
      ],
    },
  },
  {
    // knex answers rows as `any`; in the repositories the explicit row mappers (rows.ts: str, num, iso, …)
    // are the type boundary, so reading a field of a row is allowed there and nowhere else.
    files: ['infra/repositories/**/*.ts', 'infra/migrations/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // Tests read untyped HTTP bodies (`res.body.item.status`): typing every one would bury what they check.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/record-histories.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { console: 'readonly', process: 'readonly' } },
  },
);
