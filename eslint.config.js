// Lint for everything in the repository (`npm run lint`, and a step of `npm test`), with zero warnings allowed.
// TypeScript gets typescript-eslint's type-aware rules, which catch real bugs: a promise nobody awaits or whose
// rejection nobody handles, an async callback where a sync one is expected, await on a non-promise, a method
// called without its `this`, an object printed as "[object Object]". The plain JavaScript scripts get ESLint's
// recommended rules for Node. Each rule turned off below says why.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'coverage/'] },
  js.configs.recommended,
  {
    rules: {
      // `let x; const f = () => x; x = ...` is a forward reference a closure reads later: const would throw there.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['**/*.ts', '**/*.mts', '**/*.tsx'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Not in the recommended set, and each catches a real bug: `return promise` inside try/catch skips the
      // catch; a switch over a state union that misses a state.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // `list[0]!` is written where the element is known to exist; tsconfig leaves noUncheckedIndexedAccess off,
      // so the rule calls those assertions unnecessary, yet they say what the code relies on.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // An async function without await still promises a promise (fastify handlers, interface implementations);
      // the bug the rule hunts, a missing await, is what no-floating-promises reports.
      '@typescript-eslint/require-await': 'off',
      // Rejecting with an error passed through unchanged (`error: unknown`, an AbortSignal's reason) is right.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // `_name` marks a parameter or element that must be there but is not used.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read JSON answers (fastify's inject().json() and fetch's json() are `any`) and assert on them; typing
    // every answer would add casts, not safety: the assertion is the check.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Patterns for aligned CLI columns show the spaces as the CLI prints them.
      'no-regex-spaces': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: globals.node },
  },
);
