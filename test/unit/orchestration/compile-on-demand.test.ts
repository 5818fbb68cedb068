import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCompiled } from '../../../infra/compile-on-demand';

/**
 * bin/tessel.js's on-demand build (infra/compile-on-demand.js) on a miniature package: the real compiler
 * and tsconfig.json, two sources. Byte-for-byte equality with `tsc` on Tessel's own sources is checked in
 * build.test.ts, which runs tsc anyway.
 */
const ROOT = join(__dirname, '..', '..', '..');
let root: string;
let dist: string;
let compiled: number[];
const onCompile = (n: number) => compiled.push(n);
const build = () => ensureCompiled(root, { onCompile });
const write = (rel: string, text: string) => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
};
const runB = () => spawnSync(process.execPath, [join(dist, 'src', 'b.js')], { encoding: 'utf8' });

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tessel-compile-'));
  dist = join(root, 'dist');
  compiled = [];
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'tsconfig.json'), readFileSync(join(ROOT, 'tsconfig.json')));
  write('tsconfig.build.json', JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: false, types: ['node'] }, include: ['src'] }));
  write('src/a.ts', 'export const greeting = (who: string): string => `hello ${who}`;\n');
  write('src/b.ts', "import { greeting } from './a';\nconsole.log(greeting('b'));\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

it('compiles everything once, then only what changed, and runs the result with plain node', () => {
  expect(build()).toBe(join(dist, 'cli', 'main.js'));
  expect(compiled).toEqual([2]);
  expect(runB().stdout).toBe('hello b\n');
  const map = JSON.parse(readFileSync(join(dist, 'src', 'a.js.map'), 'utf8')) as { sources: string[] };
  expect(map.sources).toEqual(['../../src/a.ts']);

  build();
  expect(compiled).toEqual([2]); // nothing changed: stats only
  const later = new Date(Date.now() + 5000);
  utimesSync(join(root, 'src', 'a.ts'), later, later);
  build();
  expect(compiled).toEqual([2]); // touched, same content: not recompiled

  write('src/b.ts', "import { greeting } from './a';\nconsole.log(greeting('again'));\n");
  build();
  expect(compiled).toEqual([2, 1]);
  expect(runB().stdout).toBe('hello again\n');
});

it('removes the outputs of deleted sources, and of sources missing from a build it did not make', () => {
  build();
  rmSync(join(root, 'src', 'a.ts'));
  build();
  expect(existsSync(join(dist, 'src', 'a.js'))).toBe(false);
  expect(existsSync(join(dist, 'src', 'a.js.map'))).toBe(false);
  expect(existsSync(join(dist, 'src', 'b.js'))).toBe(true);

  // A dist/ from `npm run build` of older sources (no manifest): an old command file would still be loaded.
  rmSync(dist, { recursive: true });
  write('dist/src/old-command.js', 'exports.register = () => { throw new Error("stale"); };\n');
  build();
  expect(existsSync(join(dist, 'src', 'old-command.js'))).toBe(false);
  expect(existsSync(join(dist, 'src', 'b.js'))).toBe(true);
});

it('recompiles everything when the compiler options change', () => {
  build();
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  tsconfig.compilerOptions.sourceMap = false;
  write('tsconfig.json', JSON.stringify(tsconfig));
  build();
  expect(compiled).toEqual([2, 2]);
});

it('names the file and line of a syntax error, and keeps failing until it is fixed', () => {
  build();
  write('src/b.ts', "import { greeting } from './a';\nconsole.log(greeting('b');\n");
  expect(() => build()).toThrow(/src\/b\.ts:2:\d+: .*expected/);
  expect(() => build()).toThrow(/src\/b\.ts:2/);
  write('src/b.ts', "import { greeting } from './a';\nconsole.log(greeting('fixed'));\n");
  build();
  expect(runB().stdout).toBe('hello fixed\n');
});

it('without TypeScript, runs an existing build as it is, or reports that there is none', () => {
  rmSync(join(root, 'node_modules'));
  expect(build()).toBeUndefined();
  write('dist/cli/main.js', '');
  expect(build()).toBe(join(dist, 'cli', 'main.js'));
  expect(compiled).toEqual([]);
});

it('lets concurrent starts share one build (a lock), taking over a lock left by a dead process', async () => {
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  mkdirSync(join(dist, '.tessel-build.lock'), { recursive: true });
  writeFileSync(join(dist, '.tessel-build.lock', 'pid'), String(dead));
  const script = `require(${JSON.stringify(join(ROOT, 'infra', 'compile-on-demand.js'))}).ensureCompiled(${JSON.stringify(root)}, { onCompile: (n) => console.log('compiled', n) })`;
  const starts = await Promise.all([0, 1, 2].map(() => new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  })));
  expect(starts.map((s) => s.code)).toEqual([0, 0, 0]);
  // One compiled both files; the others found them current once they had the lock (or compiled nothing).
  expect(starts.map((s) => s.out).join('')).toBe('compiled 2\n');
  expect(existsSync(join(dist, '.tessel-build.lock'))).toBe(false);
  expect(runB().stdout).toBe('hello b\n');
});
