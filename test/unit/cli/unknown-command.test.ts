import { Command } from 'commander';
import { buildProgram } from '../../../cli/main';
import { editDistance, findUnknownCommand, formatUnknownCommand, nearestCommand } from '../../../cli/unknown-command';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { tessel } from '../../helpers/cluster';

/** Every command path of a program, e.g. ['model', 'inspect']. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

/** The subcommands of `tessel <group>` as the program registers them, in its order. */
const subcommands = (group: string) => buildProgram().commands.find((c) => c.name() === group)!.commands.map((c) => c.name()).join(', ');

describe('an unknown command is an error at every level, --help or not (real CLI process)', () => {
  it.each([
    [['frobnicate', '--help'], "unknown command 'frobnicate'", "commands of 'tessel': "],
    [['model', 'frobnicate', '--help'], "unknown command 'model frobnicate'", `commands of 'tessel model': ${subcommands('model')} (see 'tessel model --help')`],
    [['modle', 'inspect', '--help'], "unknown command 'modle'; did you mean 'model'?", "see 'tessel --help'"],
  ])('tessel %j exits 1 naming it', async (args, says, lists) => {
    const r = await tessel(args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(says);
    expect(r.stderr).toContain(lists);
    expect(r.stderr).not.toMatch(/Usage:|\n\s+at /);
  });

  it.each([[['--help']], [['model', '--help']]])('tessel %j still prints help and exits 0', async (args) => {
    const r = await tessel(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: tessel/);
  });
});

describe('a reader that closes the pipe early (tessel … --help | head)', () => {
  it('ends the CLI quietly with 0, no stack trace', async () => {
    const child = spawn(process.execPath, [join(__dirname, '../../../bin/tessel.js'), 'segment', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // closed before the help is written: the write gets EPIPE
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(code).toBe(0);
  });
});

describe('findUnknownCommand', () => {
  it('accepts every registered command path with --help, whoever added it, and catches the rest', () => {
    const program = buildProgram();
    const paths = commandPaths(program);
    expect(paths.length).toBeGreaterThan(15);
    for (const p of paths) expect(findUnknownCommand(program, [...p, '--help'])).toBeUndefined();
    expect(findUnknownCommand(program, ['help', 'model'])).toBeUndefined();
    expect(findUnknownCommand(program, ['help', 'frobnicate'])).toMatchObject({ group: ['tessel'], word: 'frobnicate' });
    expect(findUnknownCommand(program, ['frobnicate'])).toMatchObject({ group: ['tessel'], word: 'frobnicate' });
    // --env-config takes a value: 'model' here is the file, so 'frobnicate' is the command word.
    expect(findUnknownCommand(program, ['--env-config', 'model', 'frobnicate'])).toMatchObject({ group: ['tessel'], word: 'frobnicate' });
    expect(findUnknownCommand(program, ['run', 'workspace', '/data/ws', '--model', 'frobnicate.zip'])).toBeUndefined();
  });

  it('works on commands it has never seen (a group added by another command file)', () => {
    const program = new Command('tessel').option('--env-config <uri>').option('--verbose');
    const dashboard = program.command('dashboard').option('--port <n>');
    dashboard.command('serve').argument('[root]');
    dashboard.command('export');
    program.command('review <root>');
    expect(findUnknownCommand(program, ['dashboard', 'serve', 'anything', '--help'])).toBeUndefined();
    expect(findUnknownCommand(program, ['review', 'frobnicate'])).toBeUndefined(); // an operand, not a command
    expect(findUnknownCommand(program, ['--verbose', 'dashboard', '--port', '8080', 'export'])).toBeUndefined();
    const u = findUnknownCommand(program, ['dashboard', '--port', '8080', 'srve', '--help'])!;
    expect(u).toEqual({ group: ['tessel', 'dashboard'], word: 'srve', choices: ['serve', 'export'] });
    expect(formatUnknownCommand(u)).toBe(
      "tessel: unknown command 'dashboard srve'; did you mean 'dashboard serve'?\ncommands of 'tessel dashboard': serve, export (see 'tessel dashboard --help')");
    expect(findUnknownCommand(program, ['--', 'frobnicate'])).toBeUndefined();
  });

  it('suggests only a near command: typos, swapped letters, a unique prefix', () => {
    const choices = ['inspect', 'model', 'postprocess', 'predict', 'quantify', 'segment', 'server', 'status', 'synth'];
    expect(nearestCommand('modle', choices)).toBe('model');
    expect(nearestCommand('qantify', choices)).toBe('quantify');
    expect(nearestCommand('quant', choices)).toBe('quantify');
    expect(nearestCommand('sta', choices)).toBe('status');
    expect(nearestCommand('se', choices)).toBeUndefined();
    expect(nearestCommand('frobnicate', choices)).toBeUndefined();
    expect(editDistance('modle', 'model')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
