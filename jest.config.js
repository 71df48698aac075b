// Nest 12 ships as pure ESM, so the suite runs in Jest's native ESM mode
// (NODE_OPTIONS=--experimental-vm-modules, set by the npm scripts).
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
};

/**
 * The specs of what goes over HTTP run a second time on Fastify. Specs about the database, the
 * package, the built example app and units do not depend on the adapter and run once.
 */
const HTTP_SPECS = [
  'auth',
  'refresh',
  'logout',
  'devices',
  'password',
  'throttle',
  'throttle-gaps',
  'validation',
  'robustness',
  'hostile-input',
  'tokens',
  'keys',
  'key-revocation',
  'verifier',
  'recovery',
  'ban',
  'account-deletion',
  'security-events',
  'races',
  'outage',
  'multi-instance',
  'revocation-sync',
  'notification-flood',
  'openapi',
  'cookies',
  'smtp-url',
  'pooler',
  'email-identity',
  'client-limits',
  'mail-queue',
  'mfa',
  'step-up',
  'passkeys',
  'rate-limit-races',
  'oidc',
  'activity',
  'roles',
  'admin',
  'new-device-alerts',
];

/** @type {import('jest').Config} */
export default {
  // Jest's ESM mode keeps each spec's module graph alive: in one process, the heap grows by tens
  // of MB a spec, and the last specs of a full run spent most of their time collecting garbage.
  // A memory limit makes Jest run the specs in a worker (still one at a time on two cores) that it
  // replaces once past the limit.
  workerIdleMemoryLimit: '1GB',
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 30000,
  projects: [
    {
      ...common,
      displayName: 'express',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
      testTimeout: 30000,
    },
    {
      ...common,
      displayName: 'fastify',
      globals: { __HTTP_ADAPTER__: 'fastify' },
      testMatch: HTTP_SPECS.map((name) => `<rootDir>/test/${name}.e2e-spec.ts`),
      testTimeout: 30000,
    },
  ],
};
