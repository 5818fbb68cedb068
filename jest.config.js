/**
 * zarrita (the OME-Zarr reader) and its codecs ship only as ES modules whose `exports` have no `require`
 * entry. Tessel loads them with a native import() (core/formats/zarr/esm.ts), which jest's CommonJS VM
 * refuses; there the loader falls back to require(), which these entries point at the packages' files
 * and ts-jest transpiles to CommonJS.
 */
const ESM_PACKAGES = ['zarrita', '@zarrita/storage', 'numcodecs', 'reference-spec-reader'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    [`/node_modules/(${ESM_PACKAGES.join('|')})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
  moduleNameMapper: {
    '^zarrita$': '<rootDir>/node_modules/zarrita/dist/src/index.js',
    '^@zarrita/storage$': '<rootDir>/node_modules/@zarrita/storage/dist/src/index.js',
    '^@zarrita/storage/(.*)$': '<rootDir>/node_modules/@zarrita/storage/dist/src/$1.js',
    '^numcodecs$': '<rootDir>/node_modules/numcodecs/dist/index.js',
    '^numcodecs/(.*)$': '<rootDir>/node_modules/numcodecs/dist/$1.js',
    '^reference-spec-reader$': '<rootDir>/node_modules/reference-spec-reader/src/index.js',
  },
  testTimeout: 120000,
  // Integration suites start real servers; run suites one at a time on small CI machines.
  maxWorkers: process.env.CI ? 1 : 2,
  // With one worker jest runs the suites in its own process, so a handle a suite leaves open (a server's
  // socket, a child's pipe) keeps jest alive after the last test: CI timed out that way once. Exit when done;
  // `npx jest --detectOpenHandles <suite>` finds the culprit.
  forceExit: true,
};
