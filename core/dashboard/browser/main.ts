/**
 * The dashboard page: reads the data embedded in the page, draws every section, redraws on each filter
 * change, and, when served live, polls the server for fresh data. Bundled with Observable Plot into the
 * HTML by core/dashboard/page.ts.
 */
import type { DashboardData, DashboardProblem, DashboardStage } from '../model';
import { filterOptions, NO_FILTER, type Filter } from '../figures';
import { h } from './dom';
import {
  compareSection, costSection, failuresSection, gpuSection, runsSection, scatterSection, stackSection, summarySection, timelineSection, type ViewState,
} from './sections';

type Payload = DashboardData | DashboardProblem;
const isProblem = (p: Payload): p is DashboardProblem => 'problem' in p;

const state: { filter: Filter; view: ViewState; data?: DashboardData; live?: DashboardData['live']; source?: DashboardData['source']; renders: number } = {
  filter: { ...NO_FILTER }, view: { sort: 'total', showAll: false }, renders: 0,
};

function multiSelect(id: string, label: string, options: string[], chosen: string[], set: (v: string[]) => void): HTMLElement {
  const sel = h('select', {
    id, multiple: true, size: Math.min(4, Math.max(2, options.length)), title: `${label}: none selected = all; Ctrl/Cmd-click for several`,
    onchange: (e: Event) => set([...(e.target as HTMLSelectElement).selectedOptions].map((o) => o.value)),
  }, options.map((o) => h('option', { value: o, selected: chosen.includes(o) }, o)));
  return h('label', { class: 'filter' }, h('span', {}, label), sel);
}

function filterBar(data: DashboardData): HTMLElement {
  const o = filterOptions(data);
  const f = state.filter;
  // Choices that vanished with new data (live) are dropped rather than hiding everything.
  f.runs = f.runs.filter((r) => o.runs.includes(r));
  f.machines = f.machines.filter((m) => o.machines.includes(m));
  f.gpus = f.gpus.filter((g) => o.gpus.includes(g));
  const change = () => redraw();
  const stageBoxes = o.stages.map((s) => h('label', { class: 'stage' }, h('input', {
    type: 'checkbox', value: s, checked: f.stages.length === 0 || f.stages.includes(s), 'data-stage': s,
    onchange: () => {
      const boxes = [...document.querySelectorAll<HTMLInputElement>('#filter-stage input')];
      const on = boxes.filter((b) => b.checked).map((b) => b.value as DashboardStage);
      f.stages = on.length === boxes.length ? [] : on;
      change();
    },
  }), ` ${s}`));
  const date = (id: string, label: string, key: 'from' | 'to') => h('label', { class: 'filter' }, h('span', {}, label),
    h('input', { type: 'date', id, value: f[key] ?? '', min: o.days[0], max: o.days[o.days.length - 1],
      onchange: (e: Event) => { f[key] = (e.target as HTMLInputElement).value || undefined; change(); } }));
  return h('form', { class: 'filters', id: 'filters', onsubmit: (e: Event) => e.preventDefault() },
    multiSelect('filter-run', 'run', o.runs, f.runs, (v) => { f.runs = v; change(); }),
    h('fieldset', { id: 'filter-stage', class: 'filter' }, h('legend', {}, 'stage'), stageBoxes),
    multiSelect('filter-machine', 'instance type', o.machines, f.machines, (v) => { f.machines = v; change(); }),
    multiSelect('filter-gpu', 'GPU type', o.gpus, f.gpus, (v) => { f.gpus = v; change(); }),
    date('filter-from', 'from (UTC)', 'from'), date('filter-to', 'to (UTC)', 'to'),
    h('button', { type: 'button', id: 'filter-reset', onclick: () => { state.filter = { ...NO_FILTER }; draw(); } }, 'reset'));
}

function header(p: Payload, status: string): HTMLElement {
  const src = p.source ? `${p.source.kind === 'bigquery' ? 'BigQuery' : 'DuckDB'} ${p.source.name}` : '';
  return h('header', {}, h('h1', {}, 'Tessel benchmarks'), h('span', { class: 'source' }, src),
    h('span', { id: 'live-status', class: p.live ? 'live' : '' }, status));
}

const generated = (d: DashboardData) => `generated ${new Date(d.generatedAtMs).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

/** Redraws the sections below the filter bar (the filter bar keeps its focus and scroll). */
function redraw(): void {
  const data = state.data;
  const main = document.getElementById('content');
  if (!data || !main) return;
  const f = state.filter;
  const v = state.view;
  main.replaceChildren(
    summarySection(data, f), runsSection(data, f), stackSection(data, f, v, redraw), scatterSection(data, f, 'time'), scatterSection(data, f, 'memory'),
    timelineSection(data, f, v, redraw), gpuSection(data, f), costSection(data, f), failuresSection(data, f), compareSection(data, f, v, redraw));
  state.renders += 1;
  document.documentElement.dataset.renders = String(state.renders);
  // Milliseconds from navigation to the first frame painted with everything drawn, for bench/dashboard.ts.
  if (state.renders === 1) requestAnimationFrame(() => requestAnimationFrame(() => { document.documentElement.dataset.drawnMs = String(Math.round(performance.now())); }));
}

/** Draws the whole page for the current data (or the problem that stands in for it). */
function draw(problem?: string): void {
  const root = document.getElementById('app')!;
  const data = state.data;
  const live = data?.live;
  const status = problem && data ? `live · ${problem}` : data ? (live ? `live · ${generated(data)} · refreshes every ${live.refreshS} s` : generated(data)) : '';
  if (!data) {
    root.replaceChildren(header({ problem: problem ?? '', source: state.source }, ''), h('div', { class: 'problem', id: 'problem' }, problem ?? 'No data.',
      state.live ? h('p', {}, `This page checks again every ${state.live.refreshS} s.`) : null));
    return;
  }
  root.replaceChildren(header(data, status), problem ? h('div', { class: 'banner', id: 'problem' }, problem) : '',
    data.notes.length ? h('ul', { class: 'notes', id: 'notes' }, data.notes.map((n) => h('li', {}, n))) : '',
    filterBar(data), h('main', { id: 'content' }));
  redraw();
}

async function poll(url: string, refreshS: number): Promise<void> {
  let problem: string | undefined;
  try {
    const res = await fetch(url, { cache: 'no-store' });
    const p = (await res.json()) as Payload;
    if (isProblem(p)) problem = p.problem;
    else state.data = p;
  } catch (e) {
    problem = `cannot reach the dashboard server (${(e as Error).message}); retrying`;
  }
  draw(problem);
  setTimeout(() => void poll(url, refreshS), refreshS * 1000);
}

function start(): void {
  const el = document.getElementById('tessel-data');
  const p = JSON.parse(el?.textContent ?? '{"problem":"the page carries no data"}') as Payload;
  state.live = p.live;
  state.source = p.source;
  if (isProblem(p)) draw(p.problem);
  else {
    state.data = p;
    draw();
  }
  // A served page saved to disk has nothing to poll: it stays as saved.
  if (p.live && /^https?:$/.test(location.protocol)) setTimeout(() => void poll(p.live!.url, p.live!.refreshS), p.live.refreshS * 1000);
}

start();
