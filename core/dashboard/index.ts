/**
 * Benchmark dashboards: the rows a run leaves (DuckDB or BigQuery) → one self-contained HTML page, or
 * the same page served live. Every figure is an SQL aggregate over the store (queries.ts); the page
 * combines the cells a filter keeps (figures.ts) and draws them with Observable Plot (browser/).
 */
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors';
import { isGcsUri, storeFor } from '../storage';
import { collectDashboard, type CollectOptions } from './collect';
import { renderPage } from './page';
import { DuckDbStore, type DashboardStore } from './store';
import type { DashboardData } from './model';

export { collectDashboard, EmptyStoreError } from './collect';
export { renderPage } from './page';
export { serveDashboard } from './serve';
export type { DashboardStore } from './store';

/** Where the rows are: exactly one of a workspace root, a DuckDB file or a BigQuery table. */
export interface StoreSpec {
  workspace?: string;
  benchmarks?: string;
  bigqueryTable?: string;
  /** BigQuery REST endpoint (an emulator). */
  bigqueryEndpoint?: string;
  /** How long to wait for a process holding the DuckDB file. */
  lockTimeoutMs?: number;
}

/** The workspace's DuckDB file, as runs write it. */
export const workspaceBenchmarks = (root: string) => join(resolve(root), 'BENCHMARKS', 'benchmarks.duckdb');

export function openDashboardStore(spec: StoreSpec): DashboardStore {
  const given = [spec.workspace, spec.benchmarks, spec.bigqueryTable].filter((x) => x !== undefined);
  if (given.length !== 1) throw new ConfigError('give one of: a workspace root, --benchmarks <file.duckdb>, or --bigquery-table project.dataset.table');
  if (spec.bigqueryTable !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { BigQueryStore } = require('./bigquery-store') as typeof import('./bigquery-store');
    return new BigQueryStore(spec.bigqueryTable, { apiEndpoint: spec.bigqueryEndpoint });
  }
  const file = spec.benchmarks ?? spec.workspace!;
  if (isGcsUri(file)) {
    throw new ConfigError('a DuckDB benchmarks file must be local (a gs:// workspace keeps its rows in BigQuery: use --bigquery-table)', { file });
  }
  return new DuckDbStore(spec.benchmarks !== undefined ? resolve(spec.benchmarks) : workspaceBenchmarks(spec.workspace!), { lockTimeoutMs: spec.lockTimeoutMs });
}

/**
 * Collects the dashboard from the store and writes the page to `out` (a local path or gs://) atomically:
 * nothing is written when the store cannot be read.
 */
export async function writeDashboard(store: DashboardStore, out: string, o: CollectOptions = {}): Promise<{ data: DashboardData; bytes: number; uri: string }> {
  const data = await collectDashboard(store, o);
  const html = renderPage(data);
  const uri = isGcsUri(out) ? out : resolve(out);
  await storeFor(uri).writeAtomic(uri, html, { contentType: 'text/html; charset=utf-8' });
  return { data, bytes: Buffer.byteLength(html), uri };
}
