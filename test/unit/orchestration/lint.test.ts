import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');

/** Lints code as if it were the given file, with the project's real ESLint config (a separate process: ESLint's config loader needs native ESM). */
function lint(code: string, file = 'workflows/lint-probe.ts'): string[] {
  const r = spawnSync(join(root, 'node_modules', '.bin', 'eslint'), ['--stdin', '--stdin-filename', file, '--format', 'json'], { cwd: root, input: code, encoding: 'utf8' });
  const out = JSON.parse(r.stdout) as { messages: { message: string }[] }[];
  return out[0].messages.map((m) => m.message);
}

describe('workflow lint rules', () => {
  it('forbids Node built-ins in workflow files', () => {
    expect(lint("import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n").join('\n')).toMatch(/Node built-ins are not allowed/);
    expect(lint("import * as path from 'path';\nexport const p = path;\n")).toHaveLength(1);
  });

  it('allows activities as types only', () => {
    expect(lint("import type { Activities } from '../activities';\nexport type A = Activities;\n")).toEqual([]);
    expect(lint("import { createActivities } from '../activities';\nexport const c = createActivities;\n").join('\n')).toMatch(/types only/);
  });

  it('does not restrict other folders', () => {
    expect(lint("import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", 'core/lint-probe.ts')).toEqual([]);
  });
});
