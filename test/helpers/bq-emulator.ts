import { existsSync, readFileSync } from 'node:fs';
import Module from 'node:module';
import { dirname, join } from 'node:path';
import { freePort, startService } from './service';

/**
 * Crucible (PyPI `crucible-emulator[server]`, pinned in infra/python/requirements-test.txt): a
 * DuckDB-backed emulator of the BigQuery REST API. With @google-cloud/bigquery 8 it serves datasets
 * and tables (get/insert/patch), jobs.insert + getQueryResults, jobs.query without parameters and
 * tabledata.list; it answers 501 to tabledata.insertAll and 400 to queries with queryParameters.
 */
export interface BqEmulator { endpoint: string; projectId: string; stop(): Promise<void> }

export const CRUCIBLE_BIN = join(__dirname, '..', '..', '.venv', 'bin', 'crucible');

export function crucibleAvailable(): { ok: boolean; reason?: string } {
  return existsSync(CRUCIBLE_BIN) ? { ok: true } : { ok: false, reason: `${CRUCIBLE_BIN} missing (run 'node infra/bootstrap.mjs --test')` };
}

export async function startBqEmulator(projectId = 'tessel-test'): Promise<BqEmulator> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const { stop } = await startService({
    name: 'crucible', bin: CRUCIBLE_BIN, args: ['serve', '--dialect', 'bigquery', '--host', '127.0.0.1', '--port', String(port)],
    readyUrl: `${endpoint}/_crucible/health`, ready: (res) => res.ok,
  });
  return { endpoint, projectId, stop };
}

/**
 * `teeny-request` (the HTTP layer of @google-cloud/bigquery) loads node-fetch 3 with a dynamic
 * `import()`, which jest's CommonJS sandbox refuses without --experimental-vm-modules. For jest only,
 * this returns teeny-request compiled to use the CommonJS node-fetch 2 already in node_modules; use it
 * as `jest.mock('teeny-request', () => jest.requireActual('../helpers/bq-emulator').teenyRequestForJest())`.
 * Production code (node/tsx) loads the unmodified module.
 */
export function teenyRequestForJest(): unknown {
  const root = join(__dirname, '..', '..', 'node_modules');
  const file = require.resolve('teeny-request', { paths: [join(root, '@google-cloud', 'common')] });
  const fetchV2 = require.resolve('node-fetch', { paths: [root] });
  const source = readFileSync(file, 'utf8');
  const patched = source.replace("import('node-fetch')", `Promise.resolve(require(${JSON.stringify(fetchV2)}))`);
  if (patched === source) throw new Error(`teeny-request changed: no import('node-fetch') in ${file}`);
  type CompilableModule = Module & { _compile(code: string, filename: string): void; paths: string[] };
  const mod = new Module(file) as CompilableModule;
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(dirname(file));
  mod._compile(patched, file);
  return mod.exports;
}
