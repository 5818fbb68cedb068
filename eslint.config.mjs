import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const upperLayers = ['**/workflows', '**/workflows/**', '**/activities', '**/activities/**', '**/workers', '**/workers/**', '**/cli', '**/cli/**'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.venv/**', 'demo-workspace/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Layering (docs/architecture.md): cli → workers → activities → core. The domain library knows
    // nothing of Temporal's layers.
    files: ['core/**/*.ts'],
    ignores: ['core/contracts/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ group: upperLayers, message: 'core/ imports nothing from workflows, activities, workers or cli.' }],
      }],
    },
  },
  {
    // The contracts every layer shares depend on nothing but each other (and Temporal's types).
    files: ['core/contracts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: '@temporalio/common', allowTypeImports: true, message: 'contracts import Temporal types only.' }],
        patterns: [{ regex: '^(?!\\./|@temporalio/common$)', message: 'core/contracts imports nothing but its own files.' }],
      }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: only the contracts and @temporalio/workflow.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: nodeBuiltins.map((name) => ({ name, message: 'Node built-ins are not allowed in workflow code.' })),
        patterns: [{
          regex: '^(?!\\./|\\.\\./core/contracts$|@temporalio/workflow$)',
          message: 'Workflows import only core/contracts, their own files and @temporalio/workflow.',
        }],
      }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
);
