import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // The host app has its own tsconfig and dependencies: it is compiled by its own test (test/host-app.e2e-spec.ts).
  { ignores: ['dist/', 'lib/', 'node_modules/', '.data/', 'coverage/', 'test/host-app/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['**/*.mjs'],
    languageOptions: {
      globals: { console: 'readonly', URL: 'readonly', process: 'readonly' },
      parserOptions: { projectService: false },
    },
  },
);
