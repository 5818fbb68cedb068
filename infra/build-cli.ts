import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../core/package-root';

/**
 * Compiles Tessel (`tsconfig.build.json`, as `npm run build` does) into `outDir`, which must lie inside
 * the checkout so the compiled code finds Tessel's package.json above it, and writes `outDir/tessel.js`,
 * bin/tessel.js pointed at that build. Returns the runner's path: `node <it> <command> …`.
 * @throws Error with the compiler's output when the build fails.
 */
export function buildCompiledCli(outDir: string): string {
  rmSync(outDir, { recursive: true, force: true });
  const tsc = spawnSync(join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(PACKAGE_ROOT, 'tsconfig.build.json'), '--outDir', outDir], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  if (tsc.status !== 0 || tsc.stdout || tsc.stderr) throw new Error(`tsc build failed:\n${tsc.stdout}${tsc.stderr}`);
  const runner = join(outDir, 'tessel.js');
  writeFileSync(runner, "require('./cli/main.js').run();\n");
  return runner;
}
