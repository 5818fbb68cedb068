/** The dashboard's charts, drawn with Observable Plot (bundled into the page). */
import * as Plot from '@observablehq/plot';
import { DASHBOARD_STAGES, type DashboardStage, type ScatterPoint } from '../model';
import { PHASES, comboOf, type ComboFit, type Segment, type StageStat, type TimelineBar, type WorkerBusy } from '../figures';
import { h, shade } from './dom';

export const STAGE_COLOURS: Record<DashboardStage, string> = {
  convert: '#4e79a7', predict: '#e15759', postprocess: '#59a14f', quantify: '#b07aa1', record: '#76b7b2',
};
export const QUEUE_WAIT_COLOUR = '#c9c9c9';
const SERIES = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#bab0ac'];

const segmentLabel = (stage: string, phase: string) => `${stage} · ${phase === 'load' ? 'input load' : phase === 'write' ? 'output write' : phase}`;

/** Time per stage stacked per image: each stage in its colour, lighter for input load, darker for output write. */
export function stackChart(segments: Segment[], imageOrder: string[], stages: readonly DashboardStage[]): Element {
  // Only the stage·phase pairs drawn get a legend entry (a quantify without recorded load has no 'input load').
  const present = new Set(segments.map((d) => segmentLabel(d.stage, d.phase)));
  const pairs = stages.flatMap((s) => PHASES.map((p, k) => ({ label: segmentLabel(s, p), colour: shade(STAGE_COLOURS[s], [0.45, 0, -0.35][k]) })))
    .filter((x) => present.has(x.label));
  const domain = pairs.map((x) => x.label);
  const range = pairs.map((x) => x.colour);
  return Plot.plot({
    width: 960, height: 40 + 16 * imageOrder.length, marginLeft: 220, marginRight: 20,
    x: { label: 'seconds', grid: true }, y: { domain: imageOrder, label: null },
    color: { domain, range, legend: true },
    marks: [
      Plot.barX(segments, { y: 'image', x: 'seconds', fill: (d: Segment) => segmentLabel(d.stage, d.phase), tip: true,
        title: (d: Segment) => `${d.image}\n${segmentLabel(d.stage, d.phase)}: ${d.seconds.toPrecision(3)} s` }),
      Plot.ruleX([0]),
    ],
  });
}

/** The series colour of each machine × GPU type, the same in every scatter chart. */
export function comboColours(combos: string[]): { domain: string[]; range: string[] } {
  const domain = [...new Set(combos)].sort();
  return { domain, range: domain.map((_, i) => SERIES[i % SERIES.length]) };
}

/**
 * Megapixels against one stage's compute seconds or peak memory: the drawn sample as dots, the fit
 * over every row as a line per machine × GPU type.
 */
export function scatterChart(stage: DashboardStage, points: ScatterPoint[], fits: ComboFit[], kind: 'time' | 'memory', colours: { domain: string[]; range: string[] }): Element {
  const y = (p: ScatterPoint) => (kind === 'time' ? p.computeS : p.memGb);
  const drawn = points.filter((p) => y(p) !== null);
  const lines = fits.flatMap((f) => {
    const xs = drawn.filter((p) => comboOf(p.machine, p.gpu) === f.combo).map((p) => p.mpx);
    if (xs.length === 0) return [];
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    return [lo, hi === lo ? lo * 1.05 + 0.01 : hi].map((x) => ({ combo: f.combo, x, y: f.fit.intercept + f.fit.slope * x }));
  });
  return Plot.plot({
    width: 300, height: 220, marginLeft: 50, title: stage,
    x: { label: 'megapixels', grid: true, zero: true }, y: { label: kind === 'time' ? (stage === 'record' ? 's (write)' : 's compute') : 'peak GB', grid: true, zero: true },
    color: colours,
    marks: [
      Plot.dot(drawn, { x: 'mpx', y, stroke: (p: ScatterPoint) => comboOf(p.machine, p.gpu), r: 2.5, tip: true,
        title: (p: ScatterPoint) => `${p.image} (${p.run})\n${p.mpx.toPrecision(3)} Mpx, ${y(p)?.toPrecision(3)} ${kind === 'time' ? 's' : 'GB'}` }),
      Plot.line(lines, { x: 'x', y: 'y', stroke: 'combo', z: 'combo', strokeWidth: 2 }),
    ],
  });
}

/** A legend of the machine × GPU series. */
export function comboLegend(colours: { domain: string[]; range: string[] }): Element {
  return Plot.legend({ color: { ...colours, type: 'categorical' } }) as Element;
}

const rowHeight = (n: number) => Math.max(3, Math.min(16, Math.floor(640 / Math.max(1, n))));

/**
 * A run's timeline: each image a row, grey for each stage's queue wait, the stage's colour while it ran;
 * above it each prediction worker's lane, coloured while at least one prediction ran (gaps: an idle GPU).
 */
export function timelineCharts(bars: TimelineBar[], lanes: { worker: string; startS: number; endS: number }[], images: string[]): { lanes: Element; timeline: Element } {
  const end = Math.max(1, ...bars.map((b) => b.endS), ...lanes.map((l) => l.endS));
  const start = Math.min(0, ...bars.map((b) => b.startS), ...lanes.map((l) => l.startS));
  const workers = [...new Set(lanes.map((l) => l.worker))].sort();
  const x = { domain: [start, end], label: 'seconds since the run started', grid: true };
  const rh = rowHeight(images.length);
  return {
    lanes: Plot.plot({
      width: 960, height: 50 + 22 * Math.max(1, workers.length), marginLeft: 220, x, y: { domain: workers, label: null },
      marks: [
        Plot.ruleY(workers, { y: (w: string) => w, stroke: '#f0f0f0', strokeWidth: 16 }),
        Plot.barX(lanes, { x1: 'startS', x2: 'endS', y: 'worker', fill: STAGE_COLOURS.predict, tip: true,
          title: (l: { worker: string; startS: number; endS: number }) => `${l.worker}: busy ${l.startS.toFixed(1)}–${l.endS.toFixed(1)} s` }),
      ],
    }),
    timeline: Plot.plot({
      width: 960, height: 50 + rh * images.length, marginLeft: 220, x, y: { domain: images, label: null, axis: rh >= 10 ? 'left' : null },
      color: { domain: ['queue wait', ...DASHBOARD_STAGES], range: [QUEUE_WAIT_COLOUR, ...DASHBOARD_STAGES.map((s) => STAGE_COLOURS[s])], legend: true },
      marks: [
        Plot.barX(bars, { x1: 'startS', x2: 'endS', y: 'image', fill: 'kind', inset: 0.5, tip: true,
          title: (b: TimelineBar) => `${b.image}\n${b.kind}: ${(b.endS - b.startS).toPrecision(3)} s (at ${b.startS.toFixed(1)} s)` }),
      ],
    }),
  };
}

/** Each prediction worker's busy fraction of its run's wall time. */
export function busyChart(workers: WorkerBusy[]): Element {
  const label = (w: WorkerBusy) => `${w.worker} · ${w.run}`;
  return Plot.plot({
    width: 960, height: 40 + 26 * workers.length, marginLeft: 320,
    x: { domain: [0, 100], label: 'busy, % of the run\'s wall time', percent: true, grid: true }, y: { domain: workers.map(label), label: null },
    marks: [
      Plot.barX(workers, { y: label, x: (w: WorkerBusy) => w.fraction ?? 0, fill: STAGE_COLOURS.predict, tip: true }),
      Plot.ruleX([0, 1]),
    ],
  });
}

/** Mean queue wait per stage (bar), worst (tick). */
export function waitChart(stats: StageStat[]): Element {
  const rows = stats.filter((s) => s.waitMeanS !== null);
  return Plot.plot({
    width: 960, height: 40 + 30 * rows.length, marginLeft: 220,
    x: { label: 'queue wait, s (bar: mean, tick: worst)', grid: true }, y: { domain: rows.map((s) => `${s.stage} (${s.queue} queue)`), label: null },
    marks: [
      Plot.barX(rows, { y: (s: StageStat) => `${s.stage} (${s.queue} queue)`, x: 'waitMeanS', fill: (s: StageStat) => STAGE_COLOURS[s.stage], tip: true }),
      Plot.tickX(rows, { y: (s: StageStat) => `${s.stage} (${s.queue} queue)`, x: 'waitMaxS', stroke: '#333', strokeWidth: 2 }),
    ],
  });
}

/** Cost per stage. */
export function costChart(stats: StageStat[]): Element {
  return Plot.plot({
    width: 960, height: 40 + 30 * stats.length, marginLeft: 220,
    x: { label: 'USD', grid: true }, y: { domain: stats.map((s) => s.stage), label: null },
    marks: [Plot.barX(stats, { y: 'stage', x: 'costUsd', fill: (s: StageStat) => STAGE_COLOURS[s.stage], tip: true }), Plot.ruleX([0])],
  });
}

/** A chart slot: the chart, or why there is none. */
export function slot(id: string, chart: Element | null, empty: string): HTMLElement {
  return h('div', { class: 'chart', id }, chart ?? h('p', { class: 'empty' }, empty));
}
