// Lint rules, including the dependency direction of ../shared/DESIGN.md: each layer imports only the ones below it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const thirdParty = { regex: '^(?!node:|\\.)', message: 'This layer uses Node built-ins only (no third-party packages).' };
const upper = (layers) => layers.map((l) => ({ group: [`**/${l}/*`, `**/${l}`], message: `This layer may not import ${l}/ (see DESIGN.md).` }));

export default tseslint.config(
  { ignores: ['dist/**', 'web/dist/**', 'node_modules/**', 'test-artifacts/**', 'bench/results/**', '.tmp/**', '**/*.tmp.*'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          thirdParty,
          { regex: '^node:(?!crypto$|buffer$|zlib$)', message: 'protocol/ is sans-I/O: node:crypto, node:buffer and node:zlib only.' },
          ...upper(['node', 'realtime', 'sdk', 'cli']),
        ],
      }],
    },
  },
  {
    files: ['src/node/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          thirdParty,
          { regex: '^\\.\\./protocol/(?!index\\.js$)', message: 'node/ imports protocol/ only through protocol/index.js.' },
          ...upper(['realtime', 'sdk', 'cli']),
        ],
      }],
    },
  },
  {
    files: ['src/realtime/**/*.ts'],
    ignores: ['src/realtime/brokers/redis*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['ioredis', 'redis', '@redis/*'], message: 'Only brokers/redis imports a Redis client.' },
          ...upper(['protocol', 'node', 'sdk', 'cli']),
        ],
      }],
    },
  },
  {
    files: ['src/sdk/**/*.ts', 'web/src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*'], message: 'The SDK runs in browsers: no Node built-ins.' },
          { group: ['**/node/*', '**/node', '**/cli/*', '**/protocol/*'], message: 'The SDK needs only a WHATWG WebSocket.', allowTypeImports: true },
          { group: ['**/realtime/*'], message: 'The SDK may import realtime types only.', allowTypeImports: true },
        ],
      }],
    },
  },
);
