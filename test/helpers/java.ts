import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A jar fetched by `node infra/bootstrap.mjs --test` into `.tessel/java`, when Java runs here and the jar
 * is there; otherwise undefined, with a note on stderr saying why the check that needs it is skipped.
 */
export function javaJar(file: string, check: string, howFetched: string): string | undefined {
  const jar = join(__dirname, '..', '..', '.tessel', 'java', file);
  const javaOk = spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
  if (javaOk && existsSync(jar)) return jar;
  process.stderr.write(`note: ${check} check skipped (${javaOk ? `no ${jar}; ${howFetched}` : 'no java'})\n`);
  return undefined;
}

/** Sum over pixels of value × (1-based row-major index), as the Java readers in test/fixtures/java print it. */
export function weightedSum(data: ArrayLike<number>): string {
  let sum = 0n;
  for (let i = 0; i < data.length; i++) sum += BigInt(data[i]) * BigInt(i + 1);
  return sum.toString();
}
