#!/usr/bin/env node
// The `tessel` command (package bin, and `npm run -s tessel -- …`). Runs the compiled CLI in dist/, compiling
// first whatever sources changed since the last run (infra/compile-on-demand.js: a stat per source when
// nothing did). Without TypeScript installed and without a build, it runs the sources through tsx.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

// `npm run` starts scripts in the package folder; relative paths on the command line mean the user's folder.
if (process.env.npm_lifecycle_event === 'tessel' && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);
// Stack traces (printed with --verbose) then name the TypeScript sources, not dist/.
if (process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);

let compiled;
if (!existsSync(join(root, 'tsconfig.build.json'))) {
  // A container image or an installed package: dist/ without the sources, nothing to compile.
  compiled = join(root, 'dist', 'cli', 'main.js');
} else {
  try {
    compiled = require('../infra/compile-on-demand').ensureCompiled(root, {
      onCompile: (n) => process.stderr.isTTY && process.stderr.write(`tessel: compiling ${n} changed source file(s) into dist/…\n`),
    });
  } catch (e) {
    process.stderr.write(`tessel: ${e.message}\n`);
    process.exit(1);
  }
}
if (!compiled) require('tsx/cjs');
require(compiled ?? '../cli/main.ts').main().then((code) => process.exit(code));
