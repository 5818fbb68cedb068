import type { Command } from 'commander';
import { packageVersion } from '../../core/package-root';

export function register(program: Command): void {
  program.version(packageVersion(), '-V, --version', 'print the Tessel version');
}
