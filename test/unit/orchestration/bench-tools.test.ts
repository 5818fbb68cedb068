import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every benchmark installs what it needs (bench/tools.ts ensureBenchTools, which runs the bootstrap) before
 * it uses Python or a Temporal dev server, so `npx tsx bench/<name>.ts` works on a fresh clone right after
 * `npm run demo` (which installs npm packages and the Temporal CLI, not the reference tools). Checked on the
 * source of each script, so a benchmark added later is held to it too.
 */
const BENCH = join(__dirname, '..', '..', '..', 'bench');
const NEEDS_PYTHON = /\bPYTHON\b|\brunPython\(|\.venv|python|\.py['"`]|import numpy|tifffile/i;
const NEEDS_TEMPORAL = /startDevServer|startEmbedded|'--embedded'/;

const scripts = readdirSync(BENCH).filter((f) => f.endsWith('.ts') && f !== 'tools.ts');

it.each(scripts)('bench/%s installs the tools it uses', (name) => {
  const src = readFileSync(join(BENCH, name), 'utf8').replace(/^\s*(\/\/|\*|\/\*).*$/gm, ''); // comments aside
  if (NEEDS_PYTHON.test(src)) expect(src).toMatch(/ensureBenchTools\(\{ reference: true \}\)/);
  if (NEEDS_TEMPORAL.test(src)) expect(src).toMatch(/ensureBenchTools\(/);
});

it('finds the benchmarks', () => expect(scripts.length).toBeGreaterThanOrEqual(6));
