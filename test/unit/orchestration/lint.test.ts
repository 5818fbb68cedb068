/**
 * The layer rules in eslint.config.mjs (docs/architecture.md), proven to fire: each rule is run on a
 * probe file placed in the folder it guards, with the project's real ESLint config.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

/** Lints code as if it were the given file (a separate process: ESLint's config loader needs native ESM). */
function lint(code: string, file: string): string[] {
  const r = spawnSync(join(root, 'node_modules', '.bin', 'eslint'), ['--stdin', '--stdin-filename', file, '--format', 'json'], { cwd: root, input: code, encoding: 'utf8' });
  const out = JSON.parse(r.stdout) as { messages: { message: string }[] }[];
  return out[0].messages.map((m) => m.message);
}

describe('workflow rules', () => {
  const wf = 'workflows/lint-probe.ts';
  it('forbid Node built-ins', () => {
    expect(lint("import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", wf).join('\n')).toMatch(/Node built-ins are not allowed/);
    expect(lint("import * as path from 'path';\nexport const p = path;\n", wf).join('\n')).toMatch(/Node built-ins are not allowed/);
  });

  it('allow only the contracts, their own files and @temporalio/workflow', () => {
    expect(lint("import { STAGES } from '../core/contracts';\nimport { sleep } from '@temporalio/workflow';\nimport { RunState } from './run-state';\nexport const x = [STAGES, sleep, RunState];\n", wf)).toEqual([]);
    for (const spec of ['../activities', '../core/predict', '../core/contracts/run', '../workers/create', '../cli/main', 'zod']) {
      expect(lint(`import { x } from '${spec}';\nexport const y = x;\n`, wf).join('\n')).toMatch(/Workflows import only core\/contracts/);
    }
    // Not even as types: the activities' signatures are in the contracts.
    expect(lint("import type { Thing } from '../activities';\nexport type T = Thing;\n", wf).join('\n')).toMatch(/Workflows import only/);
  });
});

describe('core rules', () => {
  it('forbid imports from the Temporal layers', () => {
    for (const spec of ['../../workflows/run-state', '../../activities', '../../workers/create', '../../cli/main']) {
      expect(lint(`import { x } from '${spec}';\nexport const y = x;\n`, 'core/bench/lint-probe.ts').join('\n')).toMatch(/core\/ imports nothing from workflows/);
    }
    expect(lint("import { readFileSync } from 'node:fs';\nimport { z } from 'zod';\nimport { STAGES } from '../contracts';\nexport const f = [readFileSync, z, STAGES];\n", 'core/bench/lint-probe.ts')).toEqual([]);
  });

  it('keep the contracts free of dependencies', () => {
    const c = 'core/contracts/lint-probe.ts';
    expect(lint("import type { SignalDefinition } from '@temporalio/common';\nimport type { Stage } from './stages';\nexport type S = [SignalDefinition, Stage];\n", c)).toEqual([]);
    expect(lint("import { defineSignal } from '@temporalio/common';\nexport const s = defineSignal;\n", c).join('\n')).toMatch(/Temporal types only/);
    for (const spec of ['../errors', '../storage', 'zod', 'node:fs']) {
      expect(lint(`import { x } from '${spec}';\nexport const y = x;\n`, c).join('\n')).toMatch(/imports nothing but its own files/);
    }
  });
});

it('leaves other folders alone', () => {
  expect(lint("import { readFileSync } from 'node:fs';\nimport { createActivities } from '../activities';\nexport const f = [readFileSync, createActivities];\n", 'workers/lint-probe.ts')).toEqual([]);
});
