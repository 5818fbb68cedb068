import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runProcess, type CliResult } from '../helpers/cluster';

/**
 * `tessel run workspace … --embedded` as a user types it (`npm run -s tessel`, so bin/tessel.js and the
 * compiled build), on three good images and three broken ones: the terminal gets progress, the summary
 * and each failure once in Tessel's words; the SDK's own lines ("Activity failed", with task tokens) go to
 * the log file the summary names. With --verbose they reach the terminal too, never with a task token.
 */
jest.setTimeout(600_000);

let dir: string;
let ws: string;
function npmTessel(args: string[], logLevel = ''): Promise<CliResult> {
  return runProcess('npm', ['run', '-s', 'tessel', '--', ...args], { env: { TESSEL_EMBEDDED_DB: join(dir, 'embedded.db'), TESSEL_LOG_LEVEL: logLevel } });
}

/** The log file named by the summary's `worker log: <path> (…)` line. */
function logFileOf(stdout: string): string {
  const m = /^ {2}worker log: (\S+) \((.*)\)$/m.exec(stdout);
  if (!m) throw new Error(`no worker log line in:\n${stdout}`);
  return m[1];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessel-embedded-'));
  ws = join(dir, 'ws');
  const synth = await npmTessel(['synth', ws, '--images', '3', '--size', '192', '--seed', '11']);
  expect(synth.code).toBe(0);
  // As in run.test.ts: a truncated copy, a file that is not a TIFF, and an empty one.
  copyFileSync(join(ws, 'OMETIFF', 'tissue_000.ome.tiff'), join(ws, 'OMETIFF', 'broken.ome.tiff'));
  truncateSync(join(ws, 'OMETIFF', 'broken.ome.tiff'), 3000);
  writeFileSync(join(ws, 'OMETIFF', 'notatiff.ome.tiff'), 'this is not a TIFF file\n');
  writeFileSync(join(ws, 'OMETIFF', 'empty.ome.tiff'), '');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const logs: string[] = [];
afterAll(() => logs.forEach((f) => rmSync(f, { force: true })));

it('keeps SDK log lines and task tokens off the terminal and in the log file the summary names', async () => {
  const r = await npmTessel(['run', 'workspace', ws, '--embedded', '--max-concurrent', '6']);
  const terminal = r.stdout + r.stderr;
  expect(r.code).toBe(3);
  expect(r.stdout).toContain('images: 3 done, 3 failed, 6 total');
  expect(r.stdout).toMatch(/broken \(.*broken\.ome\.tiff\) at convert: .*truncated/);
  expect(r.stdout).toMatch(/notatiff \(.*\) at convert: .*not a TIFF/);
  expect(r.stdout).toMatch(/empty \(.*\) at convert: .*empty/);
  expect(terminal).not.toMatch(/\[(WARN|ERROR)\]|Activity failed|taskToken|sdkComponent/i);
  expect(terminal).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
  const log = logFileOf(r.stdout);
  logs.push(log);
  expect(log.startsWith(join(ROOT, '.tessel', 'logs'))).toBe(true);
  const text = readFileSync(log, 'utf8');
  expect(text.match(/\[WARN\] Activity failed .*"taskToken":"[A-Za-z0-9+/=]{20,}"/g)).toHaveLength(3);
  expect(text).not.toMatch(/\[ERROR\]/); // e.g. the slot supplier's abort at shutdown, logged as an error before
  expect(r.stdout).toContain(`worker log: ${log} (3 warnings)`);
});

it('with --verbose prints the SDK lines as well, and SDK Core\'s at DEBUG, still without task tokens', async () => {
  const r = await npmTessel(['--verbose', 'run', 'workspace', ws, '--embedded'], 'DEBUG');
  expect(r.code).toBe(3);
  const log = logFileOf(r.stdout);
  logs.push(log);
  const text = readFileSync(log, 'utf8');
  const tokens = [...text.matchAll(/"taskToken":"([^"]+)"|TaskToken\(([A-Za-z0-9+/=_-]+)\)/g)].map((m) => m[1] ?? m[2]);
  expect(new Set(tokens).size).toBeGreaterThan(3); // the three failed activities' and Core's workflow tasks'
  expect(r.stderr.match(/\[WARN\] Activity failed/g)).toHaveLength(3);
  expect(r.stderr).toMatch(/\[DEBUG\] .*"sdkComponent":"core"/); // Core's lines, through Tessel's logger
  expect(r.stderr).not.toMatch(/"task_?token"|\x1b\[/i); // no token key, no colour codes of Core's own printer
  expect(r.stderr).toContain('TaskToken([redacted])');
  for (const t of new Set(tokens)) expect(r.stdout + r.stderr).not.toContain(t.slice(0, 24));
  expect(existsSync(log)).toBe(true);
});
