/** The page's sections, each drawn from the data and the current filter. */
import { DASHBOARD_STAGES, type DashboardData, type DashboardStage, type FailureDetail, type PriceEntry, type RunInfo } from '../model';
import {
  compareRuns, comboFits, comboOf, failureGroups, gpuBusy, imageSegments, keepImage, queueWaits, stageStats, summarize, timeline,
  type CompareRow, type ComboFit, type Filter, type ImageSort, type StageStat, type WorkerBusy,
} from '../figures';
import { busyChart, comboColours, comboLegend, costChart, scatterChart, slot, stackChart, timelineCharts, waitChart } from './charts';
import { format, h, section, table, tile, valueCell } from './dom';

/** What the reader chose beyond the filter: sort, timeline run, the two runs compared. */
export interface ViewState { sort: ImageSort; showAll: boolean; timelineRun?: string; compareA?: string; compareB?: string }

/** The images shown by default in the per-image chart (all with "show all"). */
export const STACK_ROWS = 40;

export function summarySection(data: DashboardData, f: Filter): HTMLElement {
  const s = summarize(data, f);
  const unpriced = s.unpricedS > 0 ? `; ${format(s.unpricedS, 's')} of stage time ran on machines without a price and is not counted` : '';
  return section('summary', 'Summary', `${s.runs} run(s), ${data.rows.toLocaleString('en-US')} rows in the store for the runs shown. ` +
    'Wall time is first image queued to last row recorded, per run, summed. CPU- and GPU-hours are stage-hours on machines without and with a GPU.',
  h('div', { class: 'tiles' },
    tile('done', 'images done', s.done, 'int'),
    tile('failed', 'images failed', s.failed, 'int'),
    tile('cells', 'cells', s.cells, 'int'),
    tile('mpx', 'megapixels', s.mpx, 'num'),
    tile('wall', 'wall time', s.wallS, 's'),
    tile('cpu-hours', 'CPU-hours', s.cpuHours, 'h'),
    tile('gpu-hours', 'GPU-hours', s.gpuHours, 'h'),
    tile('cost', 'cost', s.costUsd, 'usd', `from the price table below${unpriced}`),
    tile('mpx-per-s', 'megapixels / s', s.mpxPerS, 'num'),
    tile('cells-per-s', 'cells / s', s.cellsPerS, 'num'),
  ));
}

export function runsSection(data: DashboardData, f: Filter): HTMLElement {
  const runs = data.runs.filter((r) => f.runs.length === 0 || f.runs.includes(r.runId));
  const when = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC');
  return section('runs', 'Runs', 'Each run\'s command line and settings hash (channels, model, postprocess and quantify settings).',
    table<RunInfo>([
      { label: 'run', value: (r) => r.runId },
      { label: 'images', value: (r) => r.images, format: 'int' },
      { label: 'started', value: (r) => when(r.firstMs) },
      { label: 'last row', value: (r) => when(r.lastMs) },
      { label: 'model', value: (r) => r.modelName },
      { label: 'settings hash', value: (r) => (r.settingsHash ? r.settingsHash.slice(0, 12) + (r.settingsHashes > 1 ? ` (+${r.settingsHashes - 1} more)` : '') : null) },
      { label: 'command line', value: (r) => r.commandLine },
    ], runs, { id: 'runs-table' }));
}

const stagesShown = (f: Filter): DashboardStage[] => DASHBOARD_STAGES.filter((s) => f.stages.length === 0 || f.stages.includes(s));

export function stackSection(data: DashboardData, f: Filter, v: ViewState, redraw: () => void): HTMLElement {
  const { images, labels, segments } = imageSegments(data, f, v.sort);
  const shown = v.showAll ? images : images.slice(0, STACK_ROWS);
  const keys = new Set(labels.slice(0, shown.length));
  const sort = h('select', { id: 'stack-sort', onchange: (e: Event) => { v.sort = (e.target as HTMLSelectElement).value as ImageSort; redraw(); } },
    (['total', 'name', ...DASHBOARD_STAGES] as ImageSort[]).map((k) => h('option', { value: k, selected: v.sort === k }, k === 'total' ? 'slowest first' : k === 'name' ? 'by name' : `by ${k} time`)));
  const all = h('label', {}, h('input', { type: 'checkbox', id: 'stack-all', checked: v.showAll, onchange: (e: Event) => { v.showAll = (e.target as HTMLInputElement).checked; redraw(); } }),
    ` show all ${images.length}`);
  return section('stack', 'Time per stage, per image', `Input load (light), compute, output write (dark) of each stage. ${shown.length} of ${images.length} images shown` +
    (data.caps.imagesPerRun < Math.max(0, ...data.runs.map((r) => r.images)) ? ` (each run's ${data.caps.imagesPerRun} slowest are kept)` : '') + '.',
  h('div', { class: 'controls' }, 'Sort ', sort, ' ', images.length > STACK_ROWS ? all : null),
  slot('chart-stack', shown.length ? stackChart(segments.filter((s) => keys.has(s.image)), [...keys], stagesShown(f)) : null, 'No images in this selection.'));
}

const fitColumns = (unit: string) => [
  { label: 'stage', value: (r: ComboFit) => r.stage },
  { label: 'machine · GPU', value: (r: ComboFit) => r.combo },
  { label: 'images', value: (r: ComboFit) => r.fit.n, format: 'int' as const },
  { label: `slope, ${unit}`, value: (r: ComboFit) => r.fit.slope, format: 'num' as const },
  { label: 'intercept', value: (r: ComboFit) => r.fit.intercept, format: 'num' as const },
  { label: 'R²', value: (r: ComboFit) => r.fit.r2, format: 'num' as const },
];

export function scatterSection(data: DashboardData, f: Filter, kind: 'time' | 'memory'): HTMLElement {
  const fits = comboFits(data, f, kind);
  const points = data.points.filter((p) => keepImage({ run: p.run, day: p.day, machines: [p.machine], gpu: p.gpu }, f));
  const stages = stagesShown(f).filter((s) => (kind === 'time' ? true : data.stageCells.some((c) => c.stage === s && c.memory.n > 0)));
  const colours = comboColours([...points.map((p) => comboOf(p.machine, p.gpu)), ...fits.map((x) => x.combo)]);
  const unit = kind === 'time' ? 's/Mpx' : 'GB/Mpx';
  const id = kind === 'time' ? 'time' : 'memory';
  const charts = stages.map((s) => {
    const ps = points.filter((p) => p.stage === s);
    const fs = fits.filter((x) => x.stage === s);
    const slope = fs.map((x) => `${x.combo}: ${format(x.fit.slope, 'num')} ${unit}`).join('; ');
    return h('div', { class: 'facet', 'data-stage': s }, ps.length ? scatterChart(s, ps, fs, kind, colours) : h('p', { class: 'empty' }, `${s}: no points`),
      h('p', { class: 'slope' }, slope || 'no fit (fewer than two image sizes)'));
  });
  return section(`${id}-fit`, kind === 'time' ? 'Megapixels vs time' : 'Megapixels vs peak memory',
    (kind === 'time' ? 'Compute seconds of each stage against image size' : 'Peak resident memory of the worker during each stage against image size') +
    ', by machine × GPU type, with a least-squares line over every row (the dots are an even sample of at most ' +
    `${data.caps.pointsPerRunStage} per run and stage). Slopes in ${unit}.`,
  colours.domain.length ? comboLegend(colours) : null,
  h('div', { class: 'facets', id: `chart-${id}` }, charts),
  table(fitColumns(unit), fits, { id: `fits-${id}`, empty: 'No fit: fewer than two image sizes in this selection.' }));
}

export function timelineSection(data: DashboardData, f: Filter, v: ViewState, redraw: () => void): HTMLElement {
  const runs = data.runs.filter((r) => f.runs.length === 0 || f.runs.includes(r.runId));
  if (!v.timelineRun || !runs.some((r) => r.runId === v.timelineRun)) v.timelineRun = runs[0]?.runId;
  const pick = h('select', { id: 'timeline-run', onchange: (e: Event) => { v.timelineRun = (e.target as HTMLSelectElement).value; redraw(); } },
    runs.map((r) => h('option', { value: r.runId, selected: r.runId === v.timelineRun }, r.runId)));
  const t = v.timelineRun ? timeline(data, f, v.timelineRun) : { bars: [], lanes: [], images: [] };
  const charts = t.bars.length ? timelineCharts(t.bars, t.lanes, t.images) : null;
  const run = runs.find((r) => r.runId === v.timelineRun);
  const sampled = run && run.images > t.images.length ? ` An even sample of ${t.images.length} of the run's ${run.images} images.` : '';
  return section('timeline', 'Timeline', 'Every image\'s stages: grey while queued, the stage\'s colour while it ran. Above, each prediction worker: ' +
    `red while at least one prediction ran; a gap there is an idle GPU.${sampled}`,
  h('div', { class: 'controls' }, 'Run ', pick),
  slot('chart-lanes', charts && t.lanes.length ? charts.lanes : null, 'No prediction start times in this selection.'),
  slot('chart-timeline', charts?.timeline ?? null, 'No stage start times in this selection (rows written before Tessel recorded them have none).'));
}

export function gpuSection(data: DashboardData, f: Filter): HTMLElement {
  const busy = gpuBusy(data, f);
  const stats = stageStats(data, f);
  const waits = queueWaits(data, f);
  return section('gpu', 'GPU busy, queue waits, attempts', 'Busy: the time at least one prediction ran on the worker ÷ its run\'s wall time.',
    h('div', { class: 'tiles' }, tile('gpu-busy', 'GPU busy fraction', busy.fraction, 'pct'),
      ...waits.map((w) => tile(`wait-${w.queue}`, `${w.queue} queue wait, mean`, w.meanS, 's', `worst ${format(w.maxS, 's')} over ${w.n} tasks`))),
    slot('chart-busy', busy.workers.length ? busyChart(busy.workers) : null, 'No predictions with start times in this selection.'),
    table<WorkerBusy>([
      { label: 'run', value: (w) => w.run }, { label: 'prediction worker', value: (w) => w.worker }, { label: 'machine · GPU', value: (w) => comboOf(w.machine, w.gpu) },
      { label: 'busy', value: (w) => w.busyS, format: 's' }, { label: 'predicting (Σ)', value: (w) => w.predictS, format: 's' },
      { label: 'run wall', value: (w) => w.wallS, format: 's' }, { label: 'busy fraction', value: (w) => w.fraction, format: 'pct' },
    ], busy.workers, { id: 'busy-table', empty: 'No prediction workers in this selection.' }),
    slot('chart-waits', stats.some((s) => s.waitMeanS !== null) ? waitChart(stats) : null, 'No queue waits recorded in this selection.'),
    table<StageStat>([
      { label: 'stage', value: (s) => s.stage }, { label: 'queue', value: (s) => s.queue }, { label: 'images', value: (s) => s.n, format: 'int' },
      { label: 'mean time', value: (s) => s.meanS, format: 's' }, { label: 'mean queue wait', value: (s) => s.waitMeanS, format: 's' },
      { label: 'worst queue wait', value: (s) => s.waitMaxS, format: 's' }, { label: 'attempts', value: (s) => s.attempts, format: 'int' },
      { label: 'retries', value: (s) => s.retries, format: 'int', title: 'attempts beyond the first' },
      { label: 'images retried', value: (s) => s.retried, format: 'int' }, { label: 'peak memory', value: (s) => s.memMaxGb, format: 'gb' },
    ], stats, { id: 'stage-table' }));
}

export function costSection(data: DashboardData, f: Filter): HTMLElement {
  const s = summarize(data, f);
  const stats = stageStats(data, f);
  return section('cost', 'Cost', 'Stage seconds × the machine\'s price per hour. Per image and per gigapixel over completed images; per 1000 cells found.',
    h('div', { class: 'tiles' },
      tile('cost-per-image', 'per image', s.costPerImage, 'usd'), tile('cost-per-gpx', 'per gigapixel', s.costPerGpx, 'usd'),
      tile('cost-per-1k-cells', 'per 1000 cells', s.costPer1kCells, 'usd'), tile('cost-total', 'total', s.costUsd, 'usd')),
    slot('chart-cost', stats.some((x) => x.costUsd > 0) ? costChart(stats) : null, 'No cost to draw: the machines here are priced at $0 or have no price (see below).'),
    h('h3', {}, 'Prices'),
    table<PriceEntry>([
      { label: 'machine type', value: (p) => p.instanceType }, { label: 'USD / hour', value: (p) => p.usdPerHour, format: 'usd' },
      { label: 'from', value: (p) => (p.source === 'none' ? 'no price: not counted' : p.source === 'default' ? 'Tessel default' : 'env config price_table') },
      { label: 'note', value: (p) => p.note ?? '' },
    ], data.prices, { id: 'prices-table' }));
}

export function failuresSection(data: DashboardData, f: Filter): HTMLElement {
  const groups = failureGroups(data, f);
  const list = data.failures.filter((x) => keepImage({ run: x.run, day: x.day, machines: x.machine.split(' + '), gpu: x.gpu }, f));
  return section('failures', 'Failures', `Images that did not complete, by stage and error type; below, each (the latest ${data.caps.failuresPerRun} per run).`,
    table([{ label: 'stage', value: (g: { stage: string }) => g.stage }, { label: 'error type', value: (g: { errorType: string }) => g.errorType },
      { label: 'images', value: (g: { n: number }) => g.n, format: 'int' }], groups, { id: 'failure-groups', empty: 'No failures in this selection.' }),
    list.length ? table<FailureDetail>([
      { label: 'run', value: (x) => x.run }, { label: 'file', value: (x) => x.imageUri ?? x.image }, { label: 'stage', value: (x) => x.stage },
      { label: 'error type', value: (x) => x.errorType }, { label: 'message', value: (x) => x.error },
    ], list, { id: 'failures-table', limit: 100 }) : null);
}

export function compareSection(data: DashboardData, f: Filter, v: ViewState, redraw: () => void): HTMLElement {
  const runs = data.runs.map((r) => r.runId);
  if (runs.length < 2) return section('compare', 'Run vs run', 'Needs two runs in the store.');
  if (!v.compareA || !runs.includes(v.compareA)) v.compareA = runs[1];
  if (!v.compareB || !runs.includes(v.compareB)) v.compareB = runs[0];
  const pick = (id: string, value: string, set: (r: string) => void) => h('select', { id, onchange: (e: Event) => { set((e.target as HTMLSelectElement).value); redraw(); } },
    runs.map((r) => h('option', { value: r, selected: r === value }, r)));
  const rows = compareRuns(data, { ...f, runs: [] }, v.compareA, v.compareB);
  const change = (r: CompareRow) => {
    const td = valueCell(r.changePct, 'num');
    if (r.changePct !== null) td.textContent = `${r.changePct > 0 ? '+' : ''}${format(r.changePct, 'num')} %`;
    return td;
  };
  return section('compare', 'Run vs run', 'Every figure of run A beside run B, and B\'s change in percent of A (the other filters apply to both).',
    h('div', { class: 'controls' }, 'A ', pick('compare-a', v.compareA, (r) => (v.compareA = r)), '  B ', pick('compare-b', v.compareB, (r) => (v.compareB = r))),
    h('table', { id: 'compare-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'section'), h('th', {}, 'figure'), h('th', {}, `A: ${v.compareA}`), h('th', {}, `B: ${v.compareB}`), h('th', {}, 'change'))),
      h('tbody', {}, rows.map((r) => h('tr', { 'data-row': `${r.section}/${r.label}` }, h('td', {}, r.section), h('td', {}, r.label),
        valueCell(r.a, r.format), valueCell(r.b, r.format), change(r))))));
}
