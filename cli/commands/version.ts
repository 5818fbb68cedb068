import type { Command } from 'commander';

export function register(program: Command): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../../package.json') as { version: string };
  program.version(pkg.version, '-V, --version', 'print the Tessel version');
}
