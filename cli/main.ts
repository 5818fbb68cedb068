#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KEY_FILE_ENV } from '../core/config/encryption-keys';
import { useEnvConfig } from './env-config';
import { formatCliError } from './output';
import { findUnknownCommand, formatUnknownCommand } from './unknown-command';

/**
 * The `tessel` command. Each file in `cli/commands/` exports `register(program)` and adds the command
 * (or command group) of its name; this file only wires them and turns errors into one clear line.
 * Given the arguments, only the named command's file is loaded (with `version`): loading all of them,
 * Temporal's client and protos included, costs ~0.9 s of start-up. `--version` alone loads only `version`;
 * help and unknown names load all.
 */
export function buildProgram(argv?: string[]): Command {
  const program = new Command('tessel')
    .description('Segment-and-measure for multiplexed tissue images as durable Temporal workflows.')
    .option('--verbose', 'print stack traces and debug output')
    .option('--env-config <uri>', 'env config JSON (local path or gs://): deepcell-imaging keys plus Tessel\'s (Temporal address,\n' +
      'namespace, TLS or API key, queue names, benchmark sink, GCS endpoint, price table); also TESSEL_ENV_CONFIG.\n' +
      'Flags beat environment variables, which beat the file.')
    .option('--encryption-key-file <file>', 'encrypt every Temporal payload (inputs, results, failures) with AES-256-GCM under the keys in this\n' +
      "file ('<key-id> <base64 key>' per line, the first encrypts); also TESSEL_ENCRYPTION_KEY_FILE or the env config's encryption.key_file.\n" +
      'Clients, workers and `tessel status` need the same keys. See docs/security.md.')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .hook('preAction', async (root) => {
      const o = root.opts<{ envConfig?: string; encryptionKeyFile?: string }>();
      if (o.encryptionKeyFile) process.env[KEY_FILE_ENV] = resolve(o.encryptionKeyFile);
      await useEnvConfig(o.envConfig);
    });
  const dir = join(__dirname, 'commands');
  const files = readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.test.ts')).sort();
  const named = argv && commandName(argv);
  const versionOnly = argv && !named && argv.some((a) => a === '--version' || a === '-V') && !argv.some((a) => a === '--help' || a === '-h');
  const only = named && files.some((f) => f.replace(/\.(ts|js)$/, '') === named) ? new Set([named, 'version'])
    : versionOnly ? new Set(['version']) : undefined;
  const seen = new Set<string>();
  for (const f of files) {
    const base = f.replace(/\.(ts|js)$/, '');
    if (seen.has(base) || (only && !only.has(base))) continue; // compiled and source side by side
    seen.add(base);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, f)) as { register?: (p: Command) => void };
    mod.register?.(program);
  }
  return program;
}

/** The command word: the first argument that is neither a global option nor its value. */
function commandName(argv: string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--env-config' || a === '--encryption-key-file') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram(argv);
  const unknown = findUnknownCommand(program, argv.slice(2));
  if (unknown) {
    process.stderr.write(formatUnknownCommand(unknown) + '\n');
    return 1;
  }
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

/** The process entry (bin/tessel.js, or this file run directly): runs {@link main} and exits with its code. */
export function run(): void {
  // A reader that stops early (`tessel … --help | head`) closes the pipe: stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(0);
  });
  void main().then((code) => process.exit(code));
}

if (require.main === module) run();
