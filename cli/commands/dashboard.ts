import { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { openDashboardStore, serveDashboard, writeDashboard, type StoreSpec } from '../../core/dashboard';
import { ConfigError } from '../../core/errors';
import { isGcsUri } from '../../core/storage';
import { activeEnvConfig } from '../env-config';
import { toInt } from '../run-input';

interface DashboardOpts {
  benchmarks?: string; bigqueryTable?: string; bigqueryEndpoint?: string; run?: string[]; out?: string; serve?: boolean; port: number; host: string;
  refresh?: number; lockTimeout: number;
}

/** Where the rows are: the positional workspace, --benchmarks or --bigquery-table; else the env config's BigQuery sink, else this folder. */
function storeSpec(workspace: string | undefined, o: DashboardOpts): StoreSpec {
  const spec: StoreSpec = { workspace, benchmarks: o.benchmarks, bigqueryTable: o.bigqueryTable, bigqueryEndpoint: o.bigqueryEndpoint, lockTimeoutMs: o.lockTimeout * 1000 };
  if (workspace === undefined && o.benchmarks === undefined && o.bigqueryTable === undefined) {
    const sink = activeEnvConfig()?.benchmark_sink;
    if (sink?.kind === 'bigquery' && sink.table) spec.bigqueryTable = sink.table;
    else if (sink?.kind === 'duckdb' && sink.path) spec.benchmarks = sink.path;
    else spec.workspace = '.';
  }
  return spec;
}

/** Default page: beside the workspace's benchmarks file, else dashboard.html here. */
function defaultOut(spec: StoreSpec): string {
  if (spec.workspace !== undefined && !isGcsUri(spec.workspace)) return join(resolve(spec.workspace), 'BENCHMARKS', 'dashboard.html');
  if (spec.benchmarks !== undefined) return join(dirname(resolve(spec.benchmarks)), 'dashboard.html');
  return resolve('dashboard.html');
}

const runList = (value: string, prev: string[] = []) => prev.concat(value.split(',').map((s) => s.trim()).filter(Boolean));

export function register(program: Command): void {
  program.command('dashboard')
    .description('Benchmark dashboards from the rows every image leaves: one self-contained HTML page (scripts, styles and data ' +
      'inline; it opens with no network) or, with --serve, the same page live, refreshing while a run goes. It shows a summary ' +
      '(images, cells, megapixels, wall time, CPU/GPU-hours, cost, throughput, command line, settings hash), time per stage per ' +
      'image, megapixels vs time and vs peak memory with fitted s/Mpx and GB/Mpx, a timeline of every stage with its queue wait ' +
      'and each GPU worker\'s busy time, queue waits, retries, cost per image/gigapixel/1000 cells (env config price_table, else ' +
      'defaults, marked as such), failures, and run vs run; with filters by run, stage, instance type, GPU type and date. ' +
      'Every figure is an SQL aggregate over the store (DuckDB or BigQuery).')
    .argument('[workspace]', 'workspace root whose BENCHMARKS/benchmarks.duckdb to read (default: the env config\'s benchmark sink, else .)')
    .option('--benchmarks <file>', 'a DuckDB benchmarks file instead of a workspace')
    .option('--bigquery-table <table>', 'project.dataset.table: read the rows from BigQuery instead')
    .option('--bigquery-endpoint <url>', 'BigQuery REST endpoint (an emulator); default Google\'s')
    .option('--run <ids...>', 'only these runs (space- or comma-separated; default: every run)', (v: string, prev?: string[]) => runList(v, prev))
    .option('--out <file>', 'page to write, local or gs:// (default: BENCHMARKS/dashboard.html beside the rows, else ./dashboard.html)')
    .option('--serve', 'serve the page live instead of writing it; it refreshes while a run is going (Ctrl-C stops)')
    .option('--port <n>', 'port for --serve', toInt, 8090)
    .option('--host <address>', 'address for --serve to listen on (0.0.0.0: every interface)', '127.0.0.1')
    .option('--refresh <s>', 'seconds between refreshes of the live page (default: 5 for DuckDB; 60 for BigQuery, where each refresh is ~10 query jobs)', toInt)
    .option('--lock-timeout <s>', 'seconds to wait for a process holding the DuckDB file before giving up', toInt, 30)
    .action(async (workspace: string | undefined, o: DashboardOpts) => {
      if (o.serve && o.out) throw new ConfigError('--out writes a page and --serve serves one: choose one');
      const spec = storeSpec(workspace, o);
      const store = openDashboardStore(spec);
      const priceTable = activeEnvConfig()?.price_table;
      const where = `${store.source.kind === 'bigquery' ? 'BigQuery table' : 'DuckDB file'} ${store.source.name}`;
      if (o.serve) {
        const refreshS = o.refresh ?? (store.source.kind === 'bigquery' ? 60 : 5);
        let seen = -1;
        const served = await serveDashboard(store, {
          runs: o.run, priceTable, port: o.port, host: o.host, refreshS,
          onCollect: (p, ms) => {
            const rows = 'problem' in p ? -1 : p.rows;
            if (rows !== seen) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${'problem' in p ? p.problem : `${rows} row(s), ${p.runs.length} run(s)`} (${ms} ms)\n`);
            seen = rows;
          },
        });
        process.stderr.write(`dashboard of ${where}, live at ${served.url} (refreshes every ${refreshS} s; Ctrl-C to stop)\n`);
        process.stdout.write(`${served.url}\n`);
        await new Promise<void>((res) => {
          const stop = () => void served.close().then(res);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        return;
      }
      process.stderr.write(`reading ${where}…\n`);
      const t0 = Date.now();
      const { data, bytes, uri } = await writeDashboard(store, o.out ?? defaultOut(spec), { runs: o.run, priceTable });
      const defaults = data.prices.filter((p) => p.source === 'default').map((p) => p.instanceType);
      const unpriced = data.prices.filter((p) => p.source === 'none').map((p) => p.instanceType);
      process.stderr.write(`${data.rows} row(s) of ${data.runs.length} run(s) in ${Date.now() - t0} ms` +
        (defaults.length ? `; default prices for ${defaults.join(', ')}` : '') + (unpriced.length ? `; no price for ${unpriced.join(', ')} (set price_table)` : '') + '\n');
      process.stderr.write(`wrote ${uri} (${(bytes / 1024).toFixed(0)} KiB)\n`);
      process.stdout.write(`${uri}\n`);
    });
}
