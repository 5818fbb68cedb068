import { CLIENT_JS } from './client';
import type { ReviewCell } from './sample';

/** One cell on a page: identity, centroid (table units), area, crop image URL, outline and scale. */
export interface PageCell extends Pick<ReviewCell, 'id' | 'image' | 'label' | 'x' | 'y' | 'area'> {
  /** Crop URL, relative to the page. */
  src: string;
  /** SVG path of the whole-cell outline in crop pixels. */
  outline: string;
  /** Crop side in image pixels. */
  size: number;
  /** µm per pixel, null when uncalibrated (the scale bar is then in px). */
  um: number | null;
  /** With active learning: the classifier's class and probability. */
  predicted?: string;
  probability?: number;
}

/** Everything the page script needs; embedded as JSON. */
export interface PageConfig {
  mode: 'static' | 'served';
  title: string;
  classes: { name: string; color: string; key: string }[];
  /** localStorage key of this review's labels (static) or of unsent decisions (served). */
  storageKey: string;
  reviewer: string;
  /** 1-based page number and page count of the sample. */
  page: number;
  pages: number;
  sampled: number;
  perPage: number;
  /** Static mode: this page's cells and every page's file name. */
  cells?: PageCell[];
  pageFiles?: string[];
  legend: { name: string; color: string }[];
  unit: string;
}

const CSS = `
:root { color-scheme: dark; --tile: 128px; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.35 system-ui, sans-serif; background: #111; color: #ddd; }
header { position: sticky; top: 0; z-index: 2; background: #1b1b1b; border-bottom: 1px solid #333; padding: 6px 10px; display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; }
header h1 { font-size: 14px; margin: 0; }
.counts span { display: inline-block; padding: 1px 7px; border-radius: 9px; margin-right: 4px; background: #2a2a2a; border: 2px solid var(--c, #555); }
.counts b { font-variant-numeric: tabular-nums; }
.legend span { margin-right: 8px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 3px; background: var(--c); }
button, label.btn { background: #2c2c2c; color: #ddd; border: 1px solid #555; border-radius: 4px; padding: 2px 8px; font: inherit; cursor: pointer; }
button:hover { background: #3a3a3a; }
#status { color: #9c9; } #status.bad { color: #e88; }
#learn { color: #bbb; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(calc(var(--tile) + 10px), 1fr)); gap: 6px; padding: 8px; }
figure { margin: 0; padding: 3px; border: 2px solid #333; border-radius: 4px; background: #181818; position: relative; }
figure.focus { outline: 3px solid #fff; outline-offset: 1px; }
figure[data-label] { border-color: var(--c); }
figure[data-label="unsure"] { border-style: dashed; border-color: #999; }
.crop { position: relative; width: var(--tile); height: var(--tile); margin: 0 auto; background: #000; }
.crop img, .crop svg { position: absolute; inset: 0; width: 100%; height: 100%; }
.crop img { image-rendering: auto; }
.crop path { fill: none; stroke: #ffff80; stroke-width: 1.2; vector-effect: non-scaling-stroke; stroke-opacity: 0.9; }
body.no-outline .crop svg { display: none; }
.bar { position: absolute; left: 4px; bottom: 4px; height: 3px; background: #fff; }
.bar + small { position: absolute; left: 4px; bottom: 8px; font-size: 10px; color: #fff; text-shadow: 0 0 2px #000; }
figcaption { font-size: 11px; color: #aaa; text-align: center; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
figcaption b { color: var(--c, #ddd); }
.pred { position: absolute; top: 4px; right: 4px; font-size: 10px; background: #000a; padding: 0 3px; border-radius: 3px; }
#help { display: none; position: fixed; right: 12px; top: 60px; z-index: 3; background: #222; border: 1px solid #555; padding: 10px 14px; border-radius: 6px; }
body.show-help #help { display: block; }
kbd { background: #333; border: 1px solid #555; border-radius: 3px; padding: 0 4px; }
`;

/** Escapes text for HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * One self-contained review page: CSS and script inline, the configuration as JSON, crops as lazy-loaded
 * `<img>` files beside it (static) or from the server (served).
 */
export function renderPage(cfg: PageConfig): string {
  const json = JSON.stringify(cfg).replace(/</g, '\\u003c');
  const keys = cfg.classes.map((c) => `<kbd>${escapeHtml(c.key)}</kbd> ${escapeHtml(c.name)}`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(cfg.title)}</title><style>${CSS}</style></head>
<body>
<header>
  <h1>${escapeHtml(cfg.title)}</h1>
  <span id="pageinfo"></span>
  <span class="counts" id="counts"></span>
  <span class="legend">${cfg.legend.map((l) => `<span><i style="--c:${l.color}"></i>${escapeHtml(l.name)}</span>`).join('')}</span>
  <span id="nav"></span>
  <span id="tools">
    <button id="export" title="Download every label as JSON">Export</button>
    <label class="btn" title="Merge labels from an exported JSON">Import<input id="import" type="file" accept=".json,.jsonl,application/json" hidden></label>
    ${cfg.mode === 'served' ? '<button id="train" title="Retrain on the labels so far (t)">Retrain</button> <button id="fetch" title="Show the cells the classifier is least sure of (f)">Least sure</button> <button id="sample" title="Back to the sample pages">Sample</button>' : ''}
    <button id="helpbtn">Keys (?)</button>
  </span>
  <span id="learn"></span>
  <span id="status"></span>
</header>
<div id="help">${keys} · <kbd>u</kbd>/<kbd>0</kbd> unsure · <kbd>x</kbd>/<kbd>Backspace</kbd> clear<br>
<kbd>←</kbd><kbd>→</kbd><kbd>↑</kbd><kbd>↓</kbd> move · <kbd>n</kbd>/<kbd>p</kbd> next/previous page · <kbd>o</kbd> outlines${cfg.mode === 'served' ? ' · <kbd>t</kbd> retrain · <kbd>f</kbd> least sure' : ''} · <kbd>?</kbd> this help</div>
<main id="grid"></main>
<script id="cfg" type="application/json">${json}</script>
<script>${CLIENT_JS}</script>
</body></html>
`;
}
