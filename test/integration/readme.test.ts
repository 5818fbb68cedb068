import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runProcess, type CliResult } from '../helpers/cluster';
import { shellCommands, type DocCommand } from '../helpers/readme-commands';

/**
 * The README's shell blocks, run in order as written, the way a newcomer pastes them: each command through
 * bash in a fresh folder inside the checkout (npm finds the package above it; relative paths land in the
 * folder, as they would in the user's), expecting exit 0 and no stack trace, raw log line or npm error.
 * Commands that start servers, need a cloud account or take minutes are listed below with the reason; a
 * template (`<run-id>`) is skipped by itself. Anything else a README gains later runs without changes here.
 */
jest.setTimeout(300_000);

interface Skip { match: RegExp; reason: string }
const SKIP: Skip[] = [
  { match: /^npm test$/, reason: 'the whole suite, this test included' },
  { match: /^npm run -s tessel -- (--\S+ \S+ )*server\b/, reason: 'a Temporal dev server on the fixed ports 7233/8233, running until interrupted' },
  { match: /^npm run -s tessel -- (--\S+ \S+ )*worker\b/, reason: 'workers run until interrupted and need that server' },
  { match: /^npm run -s tessel -- (--\S+ \S+ )*run (workspace|paths) (?!.*--dry-run)/, reason: 'needs the server and workers above (the same run embedded: the demo here, and test/integration/embedded-logs.test.ts)' },
  { match: /\bgs:\/\//, reason: 'needs a GCS bucket' },
  { match: /^npm run build$/, reason: 'the type-checked tsc build: test/unit/orchestration/build.test.ts builds and runs it' },
  { match: /ONNXRUNTIME_NODE_INSTALL=cuda/, reason: 'downloads CUDA libraries, for GPU hosts' },
  { match: /^npm run -s tessel -- (dashboard|review) .*--serve\b/, reason: 'serves a page until interrupted (test/integration/dashboard-live.test.ts and review-browser.test.ts drive both in Chromium)' },
  { match: /^npm run -s tessel -- dashboard .*--bigquery-table/, reason: 'needs a BigQuery table (test/integration/dashboard-bigquery.test.ts runs it against an emulator)' },
  { match: /^npm run -s tessel -- classify (train|apply) /, reason: 'needs the labels a person makes in the review page (test/integration/classify-run.test.ts trains from labels and runs both)' },
];

/** Commands run in a smaller form of the same command, so later commands find what they leave. */
const STAND_INS: (Skip & { run: string })[] = [{
  match: /^npm run demo$/,
  run: 'npm run -s tessel -- demo --workspace demo-workspace --images 1 --size 256',
  reason: 'the demo on one 256² image instead of three of 1024² (the bootstrap it starts with has run already); it leaves the demo-workspace/ later commands use',
}];

const TEMPLATE = /<[A-Za-z][\w-]*>/;
const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$/m;
const RAW_LOG_LINE = /\[(WARN|ERROR)\]|taskToken/;
const TOOL_ERROR = /^npm (ERR!|error)|Traceback \(most recent call last\)/m;

const commands: DocCommand[] = shellCommands(join(ROOT, 'README.md'));
let sandbox: string;

/** A command as pasted into a shell in the sandbox (not inside `npm test`'s own script environment). */
function bash(command: string): Promise<CliResult> {
  const env = { TESSEL_EMBEDDED_DB: join(sandbox, '.embedded', 'dev.db'), INIT_CWD: undefined, npm_lifecycle_event: undefined };
  return runProcess('bash', ['-c', command], { cwd: sandbox, env, timeoutMs: 280_000 });
}

beforeAll(() => {
  mkdirSync(join(ROOT, '.tessel'), { recursive: true });
  sandbox = mkdtempSync(join(ROOT, '.tessel', 'readme-'));
});
const logs: string[] = [];
afterAll(() => {
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
  for (const f of logs) rmSync(f, { force: true });
});

it('finds the cheap commands a newcomer tries first', () => {
  const runnable = commands.filter((c) => !TEMPLATE.test(c.command) && !SKIP.some((s) => s.match.test(c.command)));
  expect(runnable.map((c) => c.command)).toEqual(expect.arrayContaining([
    'npm run demo', expect.stringMatching(/-- --help$/), expect.stringMatching(/-- synth /), expect.stringMatching(/-- inspect /), expect.stringMatching(/-- model inspect /),
  ]));
});

for (const c of commands) {
  const skip = SKIP.find((s) => s.match.test(c.command));
  const name = `README.md:${c.line}: ${c.command}`;
  if (skip) it.skip(`${name}  (skipped: ${skip.reason})`, () => undefined);
  else if (TEMPLATE.test(c.command)) it.skip(`${name}  (skipped: a template, ${TEMPLATE.exec(c.command)![0]} to fill in)`, () => undefined);
  else {
    const standIn = STAND_INS.find((s) => s.match.test(c.command));
    it(standIn ? `${name}  (as: ${standIn.run}: ${standIn.reason})` : name, async () => {
      const r = await bash(standIn?.run ?? c.command);
      const output = `${r.stdout}\n${r.stderr}`;
      for (const m of output.matchAll(/worker log: (\S+)/g)) logs.push(m[1]);
      if (r.code !== 0 || STACK_TRACE.test(output) || RAW_LOG_LINE.test(output) || TOOL_ERROR.test(output)) {
        throw new Error(`exit ${r.code} for: ${c.command}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`);
      }
    });
  }
}
