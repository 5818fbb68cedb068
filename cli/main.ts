#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { useEnvConfig } from './env-config';
import { formatCliError } from './output';

/**
 * The `tessel` command. Each file in `cli/commands/` exports `register(program)` and adds one command
 * (or a command group); this file only wires them and turns errors into one clear line.
 */
export function buildProgram(): Command {
  const program = new Command('tessel')
    .description('Segment-and-measure for multiplexed tissue images as durable Temporal workflows.')
    .option('--verbose', 'print stack traces and debug output')
    .option('--env-config <uri>', 'env config JSON (local path or gs://): deepcell-imaging keys plus Tessel\'s (Temporal address,\n' +
      'namespace, TLS or API key, queue names, benchmark sink, GCS endpoint, price table); also TESSEL_ENV_CONFIG.\n' +
      'Flags beat environment variables, which beat the file.')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .hook('preAction', async (root) => {
      await useEnvConfig(root.opts<{ envConfig?: string }>().envConfig);
    });
  const dir = join(__dirname, 'commands');
  const files = readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts')).sort();
  const seen = new Set<string>();
  for (const f of files) {
    const base = f.replace(/\.(ts|js)$/, '');
    if (seen.has(base)) continue; // compiled and source side by side
    seen.add(base);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, f)) as { register?: (p: Command) => void };
    mod.register?.(program);
  }
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode; // commander already printed help or the usage error
    const verbose = argv.includes('--verbose');
    process.stderr.write(formatCliError(e, verbose) + '\n');
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
