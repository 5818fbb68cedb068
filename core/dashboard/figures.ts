/**
 * The page's figures from the store's aggregates (see model.ts): the cells a filter keeps are summed,
 * then divided. Nothing here reads rows; pure functions, shared by the browser bundle and the tests.
 */
import { DASHBOARD_STAGES, type DashboardData, type DashboardStage, type FitSums, type ImageCell, type ImageDetail, type StageCell } from './model';

/** What the page's filters select; an empty list selects everything. Days are 'YYYY-MM-DD' (UTC), inclusive. */
export interface Filter { runs: string[]; stages: DashboardStage[]; machines: string[]; gpus: string[]; from?: string; to?: string }
export const NO_FILTER: Filter = { runs: [], stages: [], machines: [], gpus: [] };

const any = <T>(list: readonly T[], v: T) => list.length === 0 || list.includes(v);
const inDays = (f: Filter, day: string) => (!f.from || day >= f.from) && (!f.to || day <= f.to);
const sum = <T>(xs: readonly T[], fn: (x: T) => number) => xs.reduce((a, x) => a + fn(x), 0);
const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/** An image counts under each machine one of its stages ran on. */
export function keepImage(c: Pick<ImageCell, 'run' | 'day' | 'machines' | 'gpu'>, f: Filter): boolean {
  return any(f.runs, c.run) && inDays(f, c.day) && any(f.gpus, c.gpu) && (f.machines.length === 0 || c.machines.some((m) => f.machines.includes(m)));
}

/** A stage counts under the machine that ran it; `stages` applies unless `allStages`. */
export function keepStage(c: Pick<StageCell, 'run' | 'day' | 'machine' | 'gpu' | 'stage'>, f: Filter, allStages = false): boolean {
  return any(f.runs, c.run) && inDays(f, c.day) && any(f.gpus, c.gpu) && any(f.machines, c.machine) && (allStages || any(f.stages, c.stage));
}

/** Wall time of each run in the selection: first image queued to last row recorded. */
export function runWalls(data: DashboardData, f: Filter): Map<string, number> {
  const span = new Map<string, [number, number]>();
  for (const c of data.imageCells) {
    if (!keepImage(c, f) || c.firstMs === null || c.lastMs === null) continue;
    const s = span.get(c.run);
    span.set(c.run, s ? [Math.min(s[0], c.firstMs), Math.max(s[1], c.lastMs)] : [c.firstMs, c.lastMs]);
  }
  return new Map([...span].map(([run, [a, b]]) => [run, Math.max(0, b - a) / 1000]));
}

export interface Summary {
  runs: number;
  images: number;
  done: number;
  failed: number;
  cells: number;
  mpx: number;
  /** Σ over runs of each run's wall time, s. */
  wallS: number;
  /** Stage-hours on machines without a GPU, and stage-hours × GPUs on machines with one. */
  cpuHours: number;
  gpuHours: number;
  costUsd: number;
  unpricedS: number;
  mpxPerS: number | null;
  cellsPerS: number | null;
  /** Cost ÷ completed images, ÷ gigapixels completed, ÷ thousands of cells found. */
  costPerImage: number | null;
  costPerGpx: number | null;
  costPer1kCells: number | null;
}

/** The summary tiles. The stage filter does not apply: images are whole. */
export function summarize(data: DashboardData, f: Filter): Summary {
  const cells = data.imageCells.filter((c) => keepImage(c, f));
  const stages = data.stageCells.filter((c) => keepStage(c, f, true));
  const walls = runWalls(data, f);
  const images = sum(cells, (c) => c.images);
  const done = sum(cells, (c) => c.done);
  const found = sum(cells, (c) => c.cells);
  const mpx = sum(cells, (c) => c.mpx);
  const wallS = sum([...walls.values()], (w) => w);
  const costUsd = sum(cells, (c) => c.costUsd);
  return {
    runs: new Set(cells.map((c) => c.run)).size,
    images, done, failed: images - done, cells: found, mpx, wallS,
    cpuHours: sum(stages, (c) => c.cpuS) / 3600,
    gpuHours: sum(stages, (c) => c.gpuS) / 3600,
    costUsd, unpricedS: sum(cells, (c) => c.unpricedS),
    mpxPerS: ratio(mpx, wallS), cellsPerS: ratio(found, wallS),
    costPerImage: ratio(costUsd, done), costPerGpx: ratio(costUsd, mpx / 1000), costPer1kCells: ratio(costUsd, found / 1000),
  };
}

export interface FitResult { n: number; slope: number; intercept: number; r2: number | null }

/** Least squares y = intercept + slope·x from its sufficient statistics; null with fewer than two distinct x. */
export function fitLine(s: FitSums): FitResult | null {
  const dx = s.n * s.sxx - s.sx * s.sx;
  if (s.n < 2 || !(dx > 1e-12 * Math.max(1, s.n * s.sxx))) return null;
  const dy = s.n * s.syy - s.sy * s.sy;
  // A constant y (the record stage's fixed write) has slope 0 exactly, not the rounding noise of Σxy − ΣxΣy/n.
  const constant = !(dy > 1e-12 * Math.max(1, s.n * s.syy));
  const cov = constant ? 0 : s.n * s.sxy - s.sx * s.sy;
  const slope = cov / dx;
  return { n: s.n, slope, intercept: (s.sy - slope * s.sx) / s.n, r2: constant ? null : (cov * cov) / (dx * dy) };
}

function addFit(a: FitSums, b: FitSums): FitSums {
  return { n: a.n + b.n, sx: a.sx + b.sx, sy: a.sy + b.sy, sxx: a.sxx + b.sxx, sxy: a.sxy + b.sxy, syy: a.syy + b.syy };
}
const NO_FIT: FitSums = { n: 0, sx: 0, sy: 0, sxx: 0, sxy: 0, syy: 0 };

export interface StageStat {
  stage: DashboardStage;
  queue: 'cpu' | 'gpu';
  n: number;
  loadS: number;
  computeS: number;
  writeS: number;
  /** Mean seconds per image (load + compute + write). */
  meanS: number | null;
  waitMeanS: number | null;
  waitMaxS: number | null;
  attempts: number;
  /** Attempts beyond the first, and images that needed any. */
  retries: number;
  retried: number;
  cpuS: number;
  gpuS: number;
  costUsd: number;
  time: FitResult | null;
  memory: FitResult | null;
  memMaxGb: number | null;
}

const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Per-stage totals, means and fits over every machine, in pipeline order (stages with no rows left out). */
export function stageStats(data: DashboardData, f: Filter): StageStat[] {
  const out: StageStat[] = [];
  for (const stage of DASHBOARD_STAGES) {
    const cs = data.stageCells.filter((c) => c.stage === stage && keepStage(c, f));
    if (cs.length === 0) continue;
    const n = sum(cs, (c) => c.n);
    const waitN = sum(cs, (c) => c.waitN);
    const attemptsN = sum(cs, (c) => c.attemptsN);
    const attempts = sum(cs, (c) => c.attempts);
    out.push({
      stage, queue: cs[0].queue, n, loadS: sum(cs, (c) => c.loadS), computeS: sum(cs, (c) => c.computeS), writeS: sum(cs, (c) => c.writeS),
      meanS: ratio(sum(cs, (c) => c.loadS + c.computeS + c.writeS), n),
      waitMeanS: ratio(sum(cs, (c) => c.waitS), waitN), waitMaxS: cs.reduce<number | null>((m, c) => maxOf(m, c.waitMaxS), null),
      attempts, retries: attempts - attemptsN, retried: sum(cs, (c) => c.retried),
      cpuS: sum(cs, (c) => c.cpuS), gpuS: sum(cs, (c) => c.gpuS), costUsd: sum(cs, (c) => c.costUsd),
      time: fitLine(cs.reduce((a, c) => addFit(a, c.time), NO_FIT)), memory: fitLine(cs.reduce((a, c) => addFit(a, c.memory), NO_FIT)),
      memMaxGb: cs.reduce<number | null>((m, c) => maxOf(m, c.memMaxGb), null),
    });
  }
  return out;
}

/** 'machine · GPU', or the machine alone when it has none: the series of the scatter charts. */
export const comboOf = (machine: string, gpu: string) => (gpu === '(none)' ? machine : `${machine} · ${gpu}`);

export interface ComboFit { stage: DashboardStage; combo: string; fit: FitResult }

/** One fit per stage and machine × GPU type, over every row of the selection (not just the drawn sample). */
export function comboFits(data: DashboardData, f: Filter, kind: 'time' | 'memory'): ComboFit[] {
  const acc = new Map<string, { stage: DashboardStage; combo: string; s: FitSums }>();
  for (const c of data.stageCells) {
    if (!keepStage(c, f) || c[kind].n === 0) continue;
    const combo = comboOf(c.machine, c.gpu);
    const key = `${c.stage}\u0000${combo}`;
    const a = acc.get(key) ?? { stage: c.stage, combo, s: NO_FIT };
    acc.set(key, { ...a, s: addFit(a.s, c[kind]) });
  }
  const out: ComboFit[] = [];
  for (const a of acc.values()) {
    const fit = fitLine(a.s);
    if (fit) out.push({ stage: a.stage, combo: a.combo, fit });
  }
  return out.sort((x, y) => DASHBOARD_STAGES.indexOf(x.stage) - DASHBOARD_STAGES.indexOf(y.stage) || x.combo.localeCompare(y.combo));
}

export interface QueueWait { queue: 'cpu' | 'gpu'; n: number; meanS: number | null; maxS: number | null; totalS: number }

/** Queue waits by task queue (convert, postprocess and quantify wait on the CPU queue; predict on the GPU queue). */
export function queueWaits(data: DashboardData, f: Filter): QueueWait[] {
  return (['cpu', 'gpu'] as const).map((queue) => {
    const cs = data.stageCells.filter((c) => c.queue === queue && keepStage(c, f));
    const n = sum(cs, (c) => c.waitN);
    const totalS = sum(cs, (c) => c.waitS);
    return { queue, n, totalS, meanS: ratio(totalS, n), maxS: cs.reduce<number | null>((m, c) => maxOf(m, c.waitMaxS), null) };
  }).filter((q) => q.n > 0);
}

export interface WorkerBusy { run: string; worker: string; machine: string; gpu: string; busyS: number; predictS: number; wallS: number; fraction: number | null }

/**
 * Each prediction worker's busy time (the union of its predictions) ÷ its run's wall time, and the
 * selection's: Σ busy ÷ Σ wall over the workers. An idle GPU is what this leaves.
 */
export function gpuBusy(data: DashboardData, f: Filter): { workers: WorkerBusy[]; fraction: number | null } {
  const walls = runWalls(data, { ...f, machines: [], gpus: [] });
  const workers = data.busy.filter((b) => any(f.runs, b.run) && any(f.machines, b.machine) && any(f.gpus, b.gpu) && walls.has(b.run)).map((b) => {
    const wallS = walls.get(b.run) ?? 0;
    return { ...b, wallS, fraction: ratio(b.busyS, wallS) };
  });
  return { workers, fraction: ratio(sum(workers, (w) => w.busyS), sum(workers, (w) => w.wallS)) };
}

export interface FailureGroup { stage: string; errorType: string; n: number }

/** Failures by stage and error type, most first. */
export function failureGroups(data: DashboardData, f: Filter): FailureGroup[] {
  const acc = new Map<string, FailureGroup>();
  for (const c of data.failureCells) {
    if (!any(f.runs, c.run) || !inDays(f, c.day) || !any(f.gpus, c.gpu) || (f.machines.length > 0 && !c.machine.split(' + ').some((m) => f.machines.includes(m)))) continue;
    const key = `${c.stage}\u0000${c.errorType}`;
    const g = acc.get(key) ?? { stage: c.stage, errorType: c.errorType, n: 0 };
    g.n += c.n;
    acc.set(key, g);
  }
  return [...acc.values()].sort((a, b) => b.n - a.n || a.stage.localeCompare(b.stage) || a.errorType.localeCompare(b.errorType));
}

export const PHASES = ['load', 'compute', 'write'] as const;
export type Phase = (typeof PHASES)[number];
export interface Segment { image: string; run: string; stage: DashboardStage; phase: Phase; seconds: number }

export type ImageSort = 'total' | 'name' | DashboardStage;

/** The per-image chart: the selection's slowest images (as shipped), sorted, as stacked stage·phase segments. */
export function imageSegments(data: DashboardData, f: Filter, sort: ImageSort = 'total'): { images: ImageDetail[]; labels: string[]; segments: Segment[] } {
  const stageSeconds = (i: ImageDetail, s: DashboardStage) => {
    const t = i.stages[s];
    return t ? t[2] + t[3] + t[4] : 0;
  };
  const shown = (s: DashboardStage) => any(f.stages, s);
  const total = (i: ImageDetail) => DASHBOARD_STAGES.filter(shown).reduce((a, s) => a + stageSeconds(i, s), 0);
  const images = data.images.filter((i) => i.slow && keepImage(i, f)).sort((a, b) =>
    sort === 'name' ? a.image.localeCompare(b.image) || a.run.localeCompare(b.run)
      : sort === 'total' ? total(b) - total(a) || a.image.localeCompare(b.image)
        : stageSeconds(b, sort) - stageSeconds(a, sort) || a.image.localeCompare(b.image));
  // Image names repeat across runs: the run is part of the label when the chart holds several.
  const label = new Set(images.map((i) => i.run)).size > 1 ? imageKey : (i: ImageDetail) => i.image;
  const segments: Segment[] = [];
  for (const i of images) {
    for (const stage of DASHBOARD_STAGES) {
      const t = i.stages[stage];
      if (!t || !shown(stage)) continue;
      const phaseSeconds = [t[2], t[3], t[4]];
      PHASES.forEach((phase, k) => {
        if (phaseSeconds[k] > 0) segments.push({ image: label(i), run: i.run, stage, phase, seconds: phaseSeconds[k] });
      });
    }
  }
  return { images, labels: images.map(label), segments };
}

/** An image's label, unique across runs. */
export const imageKey = (i: Pick<ImageDetail, 'run' | 'image'>) => `${i.image} · ${i.run}`;

export interface TimelineBar { image: string; kind: 'queue wait' | DashboardStage; startS: number; endS: number }

/**
 * One run's timeline, seconds from the run's first queued image: each sampled image's stages with the
 * queue wait before each, and each prediction worker's busy stretches.
 */
export function timeline(data: DashboardData, f: Filter, run: string): { bars: TimelineBar[]; lanes: { worker: string; startS: number; endS: number }[]; images: string[] } {
  const info = data.runs.find((r) => r.runId === run);
  const images = data.images.filter((i) => i.run === run && i.sampled && keepImage(i, f));
  const starts = images.flatMap((i) => DASHBOARD_STAGES.map((s) => i.stages[s]).filter((t) => t && t[0] !== null).map((t) => t![0]! - 1000 * (t![1] ?? 0)));
  const t0 = info?.firstMs ?? (starts.length ? Math.min(...starts) : 0);
  const bars: TimelineBar[] = [];
  for (const i of images) {
    for (const stage of DASHBOARD_STAGES) {
      const t = i.stages[stage];
      if (!t || t[0] === null || !any(f.stages, stage)) continue;
      const start = (t[0] - t0) / 1000;
      if (t[1]) bars.push({ image: i.image, kind: 'queue wait', startS: start - t[1], endS: start });
      bars.push({ image: i.image, kind: stage, startS: start, endS: start + t[2] + t[3] + t[4] });
    }
  }
  const lanes = data.islands.filter((l) => l.run === run && any(f.stages, 'predict'))
    .filter((l) => data.busy.some((b) => b.run === run && b.worker === l.worker && any(f.machines, b.machine) && any(f.gpus, b.gpu)))
    .map((l) => ({ worker: l.worker, startS: (l.startMs - t0) / 1000, endS: (l.endMs - t0) / 1000 }));
  return { bars, lanes, images: images.map((i) => i.image) };
}

export interface CompareRow { section: string; label: string; a: number | null; b: number | null; changePct: number | null; format: 'int' | 'num' | 'usd' | 's' | 'pct' | 'h' }

/** Every figure of run A beside run B's (the other filters applied to both), with B's change in percent of A. */
export function compareRuns(data: DashboardData, f: Filter, runA: string, runB: string): CompareRow[] {
  const side = (run: string) => {
    const g = { ...f, runs: [run] };
    return { summary: summarize(data, g), stages: stageStats(data, g), busy: gpuBusy(data, g).fraction, waits: queueWaits(data, g) };
  };
  const A = side(runA);
  const B = side(runB);
  const rows: CompareRow[] = [];
  const row = (section: string, label: string, format: CompareRow['format'], a: number | null | undefined, b: number | null | undefined) => {
    const av = a ?? null;
    const bv = b ?? null;
    const change = av !== null && bv !== null && av !== 0 ? ((bv - av) / Math.abs(av)) * 100 : null;
    // Equal figures computed along different sums differ in the last bits; that is no change.
    rows.push({ section, label, format, a: av, b: bv, changePct: change !== null && Math.abs(change) < 1e-9 ? 0 : change });
  };
  const s = (k: keyof Summary) => [A.summary[k], B.summary[k]] as const;
  row('summary', 'images', 'int', ...s('images'));
  row('summary', 'images done', 'int', ...s('done'));
  row('summary', 'images failed', 'int', ...s('failed'));
  row('summary', 'cells', 'int', ...s('cells'));
  row('summary', 'megapixels', 'num', ...s('mpx'));
  row('summary', 'wall time', 's', ...s('wallS'));
  row('summary', 'megapixels / s', 'num', ...s('mpxPerS'));
  row('summary', 'cells / s', 'num', ...s('cellsPerS'));
  row('summary', 'CPU-hours', 'h', ...s('cpuHours'));
  row('summary', 'GPU-hours', 'h', ...s('gpuHours'));
  row('cost', 'cost', 'usd', ...s('costUsd'));
  row('cost', 'cost / image', 'usd', ...s('costPerImage'));
  row('cost', 'cost / gigapixel', 'usd', ...s('costPerGpx'));
  row('cost', 'cost / 1000 cells', 'usd', ...s('costPer1kCells'));
  row('GPU', 'GPU busy fraction', 'pct', A.busy, B.busy);
  for (const q of ['cpu', 'gpu'] as const) {
    row('queues', `${q} queue wait, mean`, 's', A.waits.find((w) => w.queue === q)?.meanS, B.waits.find((w) => w.queue === q)?.meanS);
  }
  for (const stage of DASHBOARD_STAGES) {
    const a = A.stages.find((x) => x.stage === stage);
    const b = B.stages.find((x) => x.stage === stage);
    if (!a && !b) continue;
    row(stage, 'seconds / image', 's', a?.meanS, b?.meanS);
    row(stage, 's / megapixel (fit)', 'num', a?.time?.slope, b?.time?.slope);
    if (a?.memory || b?.memory) row(stage, 'GB / megapixel (fit)', 'num', a?.memory?.slope, b?.memory?.slope);
    row(stage, 'retries', 'int', a?.retries, b?.retries);
  }
  return rows;
}

/** The values each filter can take, from the data. */
export function filterOptions(data: DashboardData): { runs: string[]; stages: DashboardStage[]; machines: string[]; gpus: string[]; days: string[] } {
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  return {
    runs: data.runs.map((r) => r.runId),
    stages: DASHBOARD_STAGES.filter((s) => data.stageCells.some((c) => c.stage === s)),
    machines: uniq([...data.stageCells.map((c) => c.machine), ...data.imageCells.flatMap((c) => c.machines)]),
    gpus: uniq([...data.stageCells.map((c) => c.gpu), ...data.imageCells.map((c) => c.gpu)]),
    days: uniq(data.imageCells.map((c) => c.day)),
  };
}
