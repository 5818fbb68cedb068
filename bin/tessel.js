#!/usr/bin/env node
// The `tessel` command (package bin, and `npm run -s tessel -- …`). Runs the compiled CLI in dist/, compiling
// first whatever sources changed since the last run (infra/compile-on-demand.js: a stat per source when
// nothing did). Without TypeScript installed and without a build, it runs the sources through tsx.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

// The one-shot image commands run themselves once more with glibc's mmap threshold fixed (bin/memory-env.js
// says why: 780 -> 640 MB peak for `tessel segment` at 4096²), forwarding signals and the exit status.
const { IMAGE_COMMANDS, MEMORY_ENV } = require('./memory-env');
if (process.platform === 'linux' && Object.keys(MEMORY_ENV).some((k) => process.env[k] === undefined)
  && IMAGE_COMMANDS.includes(process.argv.slice(2).find((a) => !a.startsWith('-')))) {
  const child = require('node:child_process').spawn(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit', env: { ...process.env, ...MEMORY_ENV },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
  return;
}

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
require(compiled ?? '../cli/main.ts').run();
