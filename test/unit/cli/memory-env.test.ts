/**
 * bin/tessel.js runs the one-shot image commands once more with glibc's mmap threshold fixed
 * (bin/memory-env.js): the command in the second process must see that environment, and its output,
 * exit status and death by signal must reach the caller as if there were one process.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../helpers/cluster';
import { MEMORY_ENV } from '../../../bin/memory-env';

const BIN = join(ROOT, 'bin', 'tessel.js');
const dir = mkdtempSync(join(tmpdir(), 'tessel-memory-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
jest.setTimeout(300_000);

/** Env without the memory settings, as a user's shell has it. */
const plainEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in MEMORY_ENV)));

(process.platform === 'linux' ? describe : describe.skip)('bin/tessel.js and MEMORY_ENV', () => {
  test('an image command runs with MEMORY_ENV set; its stderr and exit status come through', () => {
    // A preload that records the environment the command ran with (the re-run process loads it too).
    const probe = join(dir, 'probe.js'), seen = join(dir, 'seen.json');
    writeFileSync(probe, `require('fs').appendFileSync(${JSON.stringify(seen)}, JSON.stringify({ pid: process.pid, v: process.env.MALLOC_MMAP_THRESHOLD_ ?? null }) + '\\n');`);
    const r = spawnSync(process.execPath, ['--require', probe, BIN, 'convert', join(dir, 'missing.ome.tiff'), '--out', join(dir, 'x.npz')], { env: plainEnv(), encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/missing\.ome\.tiff/);
    const runs = readFileSync(seen, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pid: number; v: string | null });
    expect(runs.map((x) => x.v)).toEqual([null, MEMORY_ENV.MALLOC_MMAP_THRESHOLD_]); // the caller's process, then the command's
    expect(new Set(runs.map((x) => x.pid)).size).toBe(2);
  });

  test('other commands, and a shell that already sets it, run in one process', () => {
    const probe = join(dir, 'probe2.js'), seen = join(dir, 'seen2.json');
    writeFileSync(probe, `require('fs').appendFileSync(${JSON.stringify(seen)}, process.pid + '\\n');`);
    expect(spawnSync(process.execPath, ['--require', probe, BIN, 'status', '--help'], { env: plainEnv() }).status).toBe(0);
    expect(spawnSync(process.execPath, ['--require', probe, BIN, 'convert', '--help'], { env: { ...plainEnv(), ...MEMORY_ENV } }).status).toBe(0);
    expect(readFileSync(seen, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  test('a signal to the caller reaches the command, and the caller dies of it too', async () => {
    // `tessel convert` of a FIFO nobody writes to blocks in its read until the signal comes.
    const fifo = join(dir, 'blocked.ome.tiff');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const child = spawn(process.execPath, [BIN, 'convert', fifo, '--out', join(dir, 'y.npz')], { env: plainEnv(), stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 3000));
    const died = new Promise<NodeJS.Signals | null>((res) => child.once('exit', (_code, signal) => res(signal)));
    child.kill('SIGTERM');
    expect(await died).toBe('SIGTERM');
    // No command left behind, still waiting on the FIFO.
    expect(spawnSync('pgrep', ['-f', fifo], { encoding: 'utf8' }).stdout.trim()).toBe('');
  });
});
