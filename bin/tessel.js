#!/usr/bin/env node
// Installed entry point: runs the compiled CLI when built (`npm run build`), else the TypeScript source via tsx.
const { existsSync } = require('node:fs');
const { join } = require('node:path');
const compiled = join(__dirname, '..', 'dist', 'cli', 'main.js');
if (existsSync(compiled)) {
  require(compiled).main().then((code) => process.exit(code));
} else {
  require('tsx/cjs');
  require('../cli/main.ts').main().then((code) => process.exit(code));
}
