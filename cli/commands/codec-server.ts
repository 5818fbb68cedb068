import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../core/errors';
import { startCodecServer } from '../../workers/encryption/codec-server';
import { KEY_FILE_ENV, keyRingFromEnv } from '../../core/config/encryption-keys';
import { collectList, toInt } from '../run-input';

/** The bearer token: `--token-file`, `TESSEL_CODEC_TOKEN_FILE`, or `TESSEL_CODEC_TOKEN` (never a flag value). */
export function codecTokenFromEnv(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const file = tokenFile ?? env.TESSEL_CODEC_TOKEN_FILE;
  let token: string | undefined;
  if (file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new ConfigError(`cannot read the codec server token file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file, cause: e });
    }
  } else token = env.TESSEL_CODEC_TOKEN?.trim();
  if (!token) throw new ConfigError('the codec server needs a token: --token-file <file>, TESSEL_CODEC_TOKEN_FILE or TESSEL_CODEC_TOKEN (make one with `openssl rand -base64 32`)');
  if (token.length < 16) throw new ConfigError(`the codec server token must be at least 16 characters${file ? ` (${file})` : ''}`);
  return token;
}

export function register(program: Command): void {
  program.command('codec-server')
    .description("Serve Temporal's remote codec (POST /encode, /decode) with this process's encryption keys, so the Temporal " +
      'Web UI and `temporal workflow show --codec-endpoint … --codec-auth "Bearer <token>"` show decrypted payloads to ' +
      'whoever holds the token (browsers sign in at the server\'s own page). Keys: --encryption-key-file or TESSEL_ENCRYPTION_KEY_FILE. ' +
      'See docs/security.md.')
    .option('--port <port>', 'port to listen on', toInt, 8888)
    .option('--ip <ip>', 'address to bind (0.0.0.0 for every interface; put TLS in front beyond localhost)', '127.0.0.1')
    .option('--cors-origin <origin>', 'a Web UI origin allowed to call it from a browser, e.g. http://localhost:8233 (repeatable, or comma-separated)', collectList, [])
    .option('--token-file <file>', 'file holding the bearer token; else TESSEL_CODEC_TOKEN_FILE or TESSEL_CODEC_TOKEN')
    .action(async (o: { port: number; ip: string; corsOrigin: string[]; tokenFile?: string }) => {
      const ring = keyRingFromEnv();
      if (!ring) throw new ConfigError(`the codec server needs the encryption keys: --encryption-key-file <file> before the command, or ${KEY_FILE_ENV}`);
      const token = codecTokenFromEnv(o.tokenFile);
      const server = await startCodecServer({
        ring, token, port: o.port, host: o.ip, corsOrigins: o.corsOrigin, log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stderr.write(`codec server at ${server.url} (keys ${ring.keys.map((k) => k.id).join(', ')} from ${ring.file}; ` +
        `CORS: ${o.corsOrigin.join(', ') || 'none'})\nCtrl-C to stop.\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void server.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
