import { buildSync } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-root';
import type { DashboardData, DashboardProblem } from './model';

const BROWSER_DIR = join(PACKAGE_ROOT, 'core', 'dashboard', 'browser');
let bundle: string | undefined;

/**
 * The page's script: core/dashboard/browser/main.ts with Observable Plot and the parts of d3 it uses,
 * bundled and minified by esbuild from node_modules (once per process, ~0.3 s), so the page needs no
 * network. Built from the sources at run time, the same from a checkout and from `dist/`.
 */
export function pageScript(): string {
  bundle ??= buildSync({
    entryPoints: [join(BROWSER_DIR, 'main.ts')], bundle: true, format: 'iife', platform: 'browser', target: 'es2020', minify: true,
    write: false, legalComments: 'eof', logLevel: 'silent', absWorkingDir: PACKAGE_ROOT,
  }).outputFiles[0].text;
  return bundle;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON inside a <script> element: `<` escaped so no `</script>` or `<!--` can end it early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

/**
 * One self-contained HTML page: styles, the bundled script and the data inline. A Content-Security-Policy
 * forbids every request (a live page may call back only to the server that served it), so the file opens
 * from a bucket, an email or a laptop offline. A problem (empty store, unreadable table) is written into
 * the page itself, so it reads even without scripts.
 */
export function renderPage(payload: DashboardData | DashboardProblem): string {
  const live = payload.live !== undefined;
  const csp = `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ${live ? "'self'" : "'none'"}; base-uri 'none'; form-action 'none'`;
  const problem = 'problem' in payload ? payload.problem : undefined;
  const title = payload.source ? `Tessel benchmarks: ${payload.source.name}` : 'Tessel benchmarks';
  const css = readFileSync(join(BROWSER_DIR, 'style.css'), 'utf8');
  const script = pageScript().replace(/<\/script/gi, '<\\/script');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${css}</style>
</head>
<body>
<div id="app">
<header><h1>Tessel benchmarks</h1><span class="source">${escapeHtml(payload.source?.name ?? '')}</span></header>
${problem ? `<div class="problem" id="problem">${escapeHtml(problem)}</div>` : '<p class="empty">Drawing…</p>'}
<noscript><p class="problem">This page draws its charts with JavaScript; enable it to see them.</p></noscript>
</div>
<script type="application/json" id="tessel-data">${scriptJson(payload)}</script>
<script>${script}</script>
</body>
</html>
`;
}
