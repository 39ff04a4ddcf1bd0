// Type-aware lint. Zones: workflow code is sandboxed (no Node builtins, no Node-only packages);
// drivers and pipeline stages do not depend on Temporal; the client does not reach into workers or activities.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'lab/**', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'before', 'after'] }] },
      ],
      // Activity factories and proxies derive their type from their body (samples-typescript's pattern).
      '@typescript-eslint/explicit-module-boundary-types': [
        'error',
        { allowedNames: ['createFsActivities', 'createInspectActivities', 'createRetentionActivities', 'createNodeActivities', 'nodeActivities', 'createVolumeActivities', 'createNativeBackupActivities', 'createSweepActivities', 'createCentralActivities', 'centralActivities', 'createServerActivities'] },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'object-shorthand': 'error',
      // Type imports stand on their own line (consistent-type-imports), so the plain rule would flag them.
      'no-duplicate-imports': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, 'pino', 'ssh2', 'tar-stream', 'zod', 'picomatch', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'].map((name) => ({
            name,
            message: 'Workflow code runs in the deterministic sandbox: no Node builtins or Node-only packages.',
          })),
          patterns: [
            { group: ['**/workers/**', '**/client/**'], message: 'Workflows may not import entry points.' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'Workflows see activities only through `import type`.' },
          ],
        },
      ],
    },
  },
  {
    files: ['activities/storage/**/*.ts', 'activities/pipeline/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['@temporalio/*'], message: 'Drivers and pipeline stages are Temporal-free; the activity adapts them.' }] },
      ],
    },
  },
  {
    files: ['client/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/activities/**', '**/workers/**'], message: 'The client starts workflows by type; it does not import workers or activities.' }] },
      ],
    },
  }
);
