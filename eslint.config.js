import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'sdk/dist/', 'node_modules/', 'coverage/', 'artifacts/', '.leash/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The core never imports a channel adapter (architecture rule 2).
      'no-restricted-imports': 'off',
    },
  },
  {
    // Small functions: a longer one is several ideas that want names (tests, benchmarks and frozen
    // migrations are scripts and read top to bottom).
    files: ['src/**', 'jobs/**'],
    rules: { 'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }] },
  },
  {
    // Tests read JSON response bodies of many shapes.
    // Migrations are frozen on Kysely<any> by design: they must not depend on today's table types.
    files: ['test/**', 'bench/**', 'migrations/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: [
      'src/agents/**',
      'src/members/**',
      'src/sessions/**',
      'src/activity/**',
      'src/outbox/**',
      'src/workspaces/**',
      'src/auth/**',
      'src/approvals/**',
      'src/messages/**',
      'src/webhooks/**',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/http/**',
                '**/cli/**',
                '**/chat/**',
                '**/channels/**',
                '**/slack/**',
                '**/telegram/**',
                '**/sms/**',
                '**/dashboard/**',
              ],
              message: 'Domain modules never import a channel adapter.',
            },
          ],
        },
      ],
    },
  },
);
