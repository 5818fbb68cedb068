import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Tessel's own folder (the one holding its package.json), found from this file whether it runs from the
 * TypeScript sources or from the compiled `dist/`: the home of `.venv`, `.tessel/` and the demo workspace.
 */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tessel') return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find Tessel's package.json above ${from}`);
  }
}

/** Tessel's version, from its package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}
