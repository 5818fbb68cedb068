import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDashboard, type CollectOptions } from './collect';
import { renderPage } from './page';
import type { DashboardData, DashboardProblem } from './model';
import type { DashboardStore } from './store';

/** Options of {@link serveDashboard}. */
export interface ServeOptions extends Omit<CollectOptions, 'live'> {
  port: number;
  /** @default '127.0.0.1' (this machine only) */
  host?: string;
  /** Seconds between the page's refreshes. */
  refreshS: number;
  /** Called after each collection (for progress or logs). */
  onCollect?: (p: DashboardData | DashboardProblem, ms: number) => void;
}

export interface ServedDashboard { url: string; server: Server; close(): Promise<void> }

/**
 * Serves the dashboard live: `/` is the same page `--out` writes, carrying the data as of the request;
 * the page then fetches `/data.json` every `refreshS` seconds and redraws, keeping the reader's filters.
 * Each collection holds a DuckDB file only while it copies the rows (see DuckDbStore). Requests within half
 * a refresh (or twice the last collection's time, when longer) share a collection, so several open pages
 * do not multiply the queries. A store that cannot be read (empty so far, held by another process, gone)
 * becomes a message on the page, never a blank one.
 */
export async function serveDashboard(store: DashboardStore, o: ServeOptions): Promise<ServedDashboard> {
  const live = { refreshS: o.refreshS, url: 'data.json' };
  let last: { at: number; payload: Promise<DashboardData | DashboardProblem> } | undefined;
  let tookMs = 0;
  const payload = (): Promise<DashboardData | DashboardProblem> => {
    // A store that takes long to read is read less often than the page asks (at most a third of the time).
    if (last && Date.now() - last.at < Math.max((o.refreshS * 1000) / 2, 2 * tookMs)) return last.payload;
    const t0 = Date.now();
    const p = collectDashboard(store, { ...o, live }).catch((e: unknown): DashboardProblem => ({
      problem: (e as Error).message, source: store.source, live,
    })).then((r) => {
      tookMs = Date.now() - t0;
      o.onCollect?.(r, tookMs);
      return r;
    });
    last = { at: t0, payload: p };
    return p;
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' || (path !== '/' && path !== '/data.json' && path !== '/index.html')) {
      res.writeHead(path === '/favicon.ico' ? 204 : 404, { 'content-type': 'text/plain' }).end(path === '/favicon.ico' ? '' : 'not found\n');
      return;
    }
    void payload().then((p) => {
      if (path === '/data.json') {
        // A problem (no rows yet, file busy) is a valid answer the page shows, so 200 either way.
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(p));
      } else {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(renderPage(p));
      }
    }, (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`, server,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
