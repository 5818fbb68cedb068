import { ConfigError, TesselError } from '../errors';
import {
  busyQuery, capsFor, failureCellsQuery, failuresQuery, imageCellsQuery, imagesQuery, islandsQuery, machinesQuery, pointsQuery, runsQuery, stageCellsQuery,
} from './queries';
import { resolvePrices } from './prices';
import { DASHBOARD_COLUMNS, REQUIRED_COLUMNS, type BaseOptions } from './sql';
import type {
  BusyCell, DashboardData, DashboardStage, FailureCell, FailureDetail, ImageCell, ImageDetail, Island, RunInfo, ScatterPoint, StageCell, StageTiming,
} from './model';
import type { DashboardStore, SqlRow } from './store';

/** Options of {@link collectDashboard}. */
export interface CollectOptions {
  /** Only these runs (every run when empty). */
  runs?: readonly string[];
  /** USD per hour by machine type (the env config's `price_table`); defaults fill the rest. */
  priceTable?: Readonly<Record<string, number>>;
  live?: DashboardData['live'];
  now?: number;
}

/** The store has no benchmark rows (yet): a run writes one per image. */
export class EmptyStoreError extends TesselError {
  constructor(file: string) {
    super('NOT_FOUND', 'no benchmark rows yet: a run writes one per image as it finishes', { file });
    this.name = 'EmptyStoreError';
  }
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
/**
 * Values of the individual images, points and stretches (drawn, never summed) to 0.1 ms and 4 decimals:
 * it keeps the page a third smaller, finer than any chart draws. The cells the figures sum are exact.
 */
const ms = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v)));
const drawn = (v: unknown): number | null => (v === null || v === undefined ? null : Math.round(Number(v) * 1e4) / 1e4);
const machinesOf = (r: SqlRow): string[] => {
  const ms = [...new Set([r.m1, r.m2, r.m3].filter((m) => m !== null && m !== undefined).map(String))];
  return ms.length ? ms : ['(unknown)'];
};
const fit = (r: SqlRow, p: 't' | 'm') => ({ n: num(r[`${p}_n`]), sx: num(r[`${p}_sx`]), sy: num(r[`${p}_sy`]), sxx: num(r[`${p}_sxx`]), sxy: num(r[`${p}_sxy`]), syy: num(r[`${p}_syy`]) });

/**
 * Runs every figure's query on the store in one session and returns what the page draws. Throws a
 * {@link ConfigError} for a table without the benchmark columns or a run id the store does not have, and
 * {@link EmptyStoreError} when there is nothing to show.
 */
export async function collectDashboard(store: DashboardStore, o: CollectOptions = {}): Promise<DashboardData> {
  const d = store.dialect;
  const file = store.source.kind === 'bigquery' ? `bigquery:${store.source.name}` : store.source.name;
  return store.session(async ({ columns, query }) => {
    const missingRequired = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
    if (missingRequired.length > 0) {
      throw new ConfigError(`not a Tessel benchmark table: it lacks ${missingRequired.join(', ')} (the schema is infra/bigquery/schema.json, ` +
        `the table the benchmark sink creates)`, { file });
    }
    const notes: string[] = [];
    const missing = DASHBOARD_COLUMNS.filter((c) => !columns.has(c));
    if (missing.length > 0) {
      notes.push(`The table predates ${missing.length} column(s) the dashboard reads (${missing.join(', ')}); they read as empty, ` +
        'so the figures that need them (timeline, per-phase times, failure types) show what older rows have. Rows written by a newer Tessel fill them.');
    }
    const base: BaseOptions = { columns, prices: {} };
    const allRuns = (await query(runsQuery(d, base))).map(toRunInfo);
    if (allRuns.length === 0) throw new EmptyStoreError(file);
    const wanted = [...new Set(o.runs ?? [])];
    const unknown = wanted.filter((r) => !allRuns.some((a) => a.runId === r));
    if (unknown.length > 0) {
      const listed = allRuns.slice(0, 8).map((r) => `${r.runId} (${r.images} image${r.images === 1 ? '' : 's'})`).join(', ');
      throw new ConfigError(`no run ${unknown.map((u) => `'${u}'`).join(', ')} in this store; its runs, latest first: ${listed}${allRuns.length > 8 ? `, … ${allRuns.length - 8} more` : ''}`, { file });
    }
    const runs = wanted.length ? allRuns.filter((r) => wanted.includes(r.runId)) : allRuns;
    const scoped: BaseOptions = { columns, runs: wanted.length ? wanted : undefined, prices: {} };
    const machines = (await query(machinesQuery(d, scoped))).map((r) => String(r.machine));
    const prices = resolvePrices(machines, o.priceTable);
    const priced: BaseOptions = { ...scoped, prices: Object.fromEntries(prices.map((p) => [p.instanceType, p.usdPerHour])) };
    const caps = capsFor(runs.length);
    const [imageRows, stageRows, failureCellRows, failureRows, imageDetailRows, pointRows, busyRows, islandRows] = await Promise.all([
      query(imageCellsQuery(d, priced)), query(stageCellsQuery(d, priced)), query(failureCellsQuery(d, priced)), query(failuresQuery(d, priced, caps)),
      query(imagesQuery(d, priced, caps)), query(pointsQuery(d, priced, caps)), query(busyQuery(d, priced)), query(islandsQuery(d, priced, caps)),
    ]);
    // Cells come back in whatever order the store's GROUP BY leaves (and NULLs sort differently in DuckDB and
    // BigQuery): sorted here, the page is the same whichever store fed it. Image cells of different stage
    // machines can list the same machines; their first row's time breaks the tie.
    const imageCells = sortBy(imageRows.map(toImageCell), (c) => [c.run, c.day, c.machines.join(' + '), c.gpu, String(c.firstMs ?? 0).padStart(16, '0'), String(c.images).padStart(12, '0')]);
    const rows = imageCells.reduce((a, c) => a + c.images, 0);
    const images = imageDetailRows.map((r) => toImageDetail(r, caps.imagesPerRun));
    for (const run of runs) {
      if (run.images > caps.imagesPerRun) {
        notes.push(`Run ${run.runId}: the per-image chart shows its ${caps.imagesPerRun} slowest of ${run.images} images and the timeline an even sample of ` +
          `${caps.imagesPerRun}; the summary, fits and cost use every row.`);
      }
    }
    return {
      version: 1,
      source: store.source,
      generatedAtMs: o.now ?? Date.now(),
      live: o.live,
      notes,
      prices,
      rows,
      runs,
      imageCells,
      stageCells: sortBy(stageRows.map(toStageCell), (c) => [c.run, c.stage, c.day, c.machine, c.gpu]),
      failureCells: sortBy(failureCellRows.map((r): FailureCell => ({
        run: String(r.run), day: String(r.day), machine: machinesOf(r).join(' + '), gpu: String(r.gpu), stage: String(r.stage), errorType: String(r.error_type), n: num(r.n),
      })), (c) => [c.run, c.day, c.machine, c.gpu, c.stage, c.errorType]),
      busy: busyRows.map((r): BusyCell => ({
        run: String(r.run), worker: String(r.worker), machine: String(r.machine), gpu: String(r.gpu), busyS: num(r.busy_s), predictS: num(r.predict_s),
        predictions: num(r.predictions), islands: num(r.islands),
      })),
      islands: islandRows.map((r): Island => ({ run: String(r.run), worker: String(r.worker), startMs: ms(r.s) ?? 0, endMs: ms(r.e) ?? 0 })),
      images,
      points: pointRows.map((r): ScatterPoint => ({
        run: String(r.run), stage: String(r.stage) as DashboardStage, machine: String(r.machine), gpu: String(r.gpu), day: String(r.day), image: String(r.image),
        mpx: drawn(r.mpx) ?? 0, computeS: drawn(r.fit_s), memGb: drawn(r.mem_gb),
      })),
      failures: failureRows.map((r): FailureDetail => ({
        run: String(r.run), image: String(r.image), imageUri: strOrNull(r.image_uri), stage: strOrNull(r.failed_stage), errorType: strOrNull(r.error_type),
        error: strOrNull(r.error), atMs: numOrNull(r.recorded_ms), day: String(r.day), machine: machinesOf(r).join(' + '), gpu: String(r.gpu),
      })),
      caps,
    };
  });
}

function sortBy<T>(xs: T[], key: (x: T) => string[]): T[] {
  const k = new Map(xs.map((x) => [x, key(x).join('\u0000')]));
  return xs.sort((a, b) => (k.get(a)! < k.get(b)! ? -1 : k.get(a)! > k.get(b)! ? 1 : 0));
}

function toRunInfo(r: SqlRow): RunInfo {
  return {
    runId: String(r.run), images: num(r.images), firstMs: numOrNull(r.first_ms), lastMs: numOrNull(r.last_ms), commandLine: strOrNull(r.command_line),
    settingsHash: strOrNull(r.settings_hash), settingsHashes: num(r.settings_hashes), modelName: strOrNull(r.model_name),
  };
}

function toImageCell(r: SqlRow): ImageCell {
  return {
    run: String(r.run), day: String(r.day), machines: machinesOf(r), gpu: String(r.gpu), images: num(r.images), done: num(r.done), cells: num(r.cells),
    mpx: num(r.mpx), imageS: num(r.image_s), costUsd: num(r.cost_usd), unpricedS: num(r.unpriced_s), firstMs: numOrNull(r.first_ms), lastMs: numOrNull(r.last_ms),
  };
}

function toStageCell(r: SqlRow): StageCell {
  return {
    run: String(r.run), stage: String(r.stage) as DashboardStage, queue: String(r.queue) as 'cpu' | 'gpu', day: String(r.day), machine: String(r.machine),
    gpu: String(r.gpu), n: num(r.n), loadS: num(r.load_s), computeS: num(r.compute_s), writeS: num(r.write_s), waitN: num(r.wait_n), waitS: num(r.wait_s),
    waitMaxS: numOrNull(r.wait_max_s), attemptsN: num(r.attempts_n), attempts: num(r.attempts), retried: num(r.retried), mpx: num(r.mpx),
    gpuS: num(r.gpu_s), cpuS: num(r.cpu_s), costUsd: num(r.cost_usd), unpricedS: num(r.unpriced_s), time: fit(r, 't'), memory: fit(r, 'm'),
    memMaxGb: numOrNull(r.mem_max_gb),
  };
}

function toImageDetail(r: SqlRow, cap: number): ImageDetail {
  const timing = (p: string): StageTiming => {
    const started = ms(r[`${p}_ms`]);
    const load = numOrNull(r[`${p}_load`]);
    const compute = numOrNull(r[`${p}_compute`]);
    const write = numOrNull(r[`${p}_write`]);
    if (started === null && load === null && compute === null && write === null) return null;
    // quantification_time_s is the whole stage: its compute is what its load and write leave.
    const c = p === 'quant' && compute !== null ? compute - (load ?? 0) - (write ?? 0) : compute;
    return [started, drawn(r[`${p}_wait`]), drawn(load) ?? 0, drawn(c) ?? 0, drawn(write) ?? 0];
  };
  const nRun = num(r.n_run);
  return {
    run: String(r.run), image: String(r.image), day: String(r.day), machines: machinesOf(r), gpu: String(r.gpu), success: r.success === true,
    failedStage: strOrNull(r.failed_stage), totalS: drawn(r.total_time_s), mpx: drawn(r.mpx), cells: numOrNull(r.cells),
    stages: { convert: timing('conv'), predict: timing('pred'), postprocess: timing('post'), quantify: timing('quant'), record: timing('rec') },
    slow: num(r.rn_slow) <= cap,
    sampled: (num(r.rn_time) - 1) % Math.max(1, Math.ceil(nRun / cap)) === 0,
  };
}
