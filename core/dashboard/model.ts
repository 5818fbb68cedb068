/**
 * What `tessel dashboard` ships to the page: every array is the output of one SQL query over the
 * benchmark store (core/dashboard/queries.ts), already aggregated or capped, so the page stays small
 * whatever the store holds. Cells are additive (counts, sums, minima, maxima and the sufficient
 * statistics of a linear fit), so the page can combine the ones a filter keeps without the rows.
 * Pure declarations: the browser bundle imports this file too.
 */

/** The stages a benchmark row times, in pipeline order. */
export const DASHBOARD_STAGES = ['convert', 'predict', 'postprocess', 'quantify', 'record'] as const;
export type DashboardStage = (typeof DASHBOARD_STAGES)[number];

/** Where a price came from: the env config's `price_table`, Tessel's built-in defaults, or nowhere. */
export type PriceSource = 'env config' | 'default' | 'none';
export interface PriceEntry { instanceType: string; usdPerHour: number | null; source: PriceSource; note?: string }

/** One run: identity and what it ran with. */
export interface RunInfo {
  runId: string;
  images: number;
  firstMs: number | null;
  lastMs: number | null;
  commandLine: string | null;
  settingsHash: string | null;
  /** Distinct settings hashes among the run's rows (more than one: images ran with different settings). */
  settingsHashes: number;
  modelName: string | null;
}

/**
 * Image-level sums per (run, day, machines). An image counts under every machine one of its stages ran
 * on (`machines`), and under the GPU type that ran its prediction.
 */
export interface ImageCell {
  run: string;
  day: string;
  machines: string[];
  gpu: string;
  images: number;
  done: number;
  cells: number;
  /** Megapixels of the images that completed. */
  mpx: number;
  imageS: number;
  costUsd: number;
  /** Stage-seconds whose machine has no price (their cost is unknown, not zero). */
  unpricedS: number;
  /** Earliest moment an image of the cell was queued, and the latest a row was recorded (epoch ms). */
  firstMs: number | null;
  lastMs: number | null;
}

/** Sufficient statistics of a least-squares line y = a + b·x: n, Σx, Σy, Σx², Σxy, Σy². */
export interface FitSums { n: number; sx: number; sy: number; sxx: number; sxy: number; syy: number }

/** Stage-level sums per (run, stage, day, machine, GPU type), the machine being the one that ran the stage. */
export interface StageCell {
  run: string;
  stage: DashboardStage;
  queue: 'cpu' | 'gpu';
  day: string;
  machine: string;
  gpu: string;
  n: number;
  loadS: number;
  computeS: number;
  writeS: number;
  waitN: number;
  waitS: number;
  waitMaxS: number | null;
  attemptsN: number;
  attempts: number;
  /** Images whose stage needed more than one attempt. */
  retried: number;
  mpx: number;
  /** Stage-seconds × GPUs on machines with a GPU, and stage-seconds on machines without. */
  gpuS: number;
  cpuS: number;
  costUsd: number;
  unpricedS: number;
  /** Megapixels (x) against compute seconds (y). */
  time: FitSums;
  /** Megapixels (x) against peak memory in GB (y); n = 0 for stages that record none. */
  memory: FitSums;
  memMaxGb: number | null;
}

/** Failures per (run, day, machine, GPU, stage, error type). */
export interface FailureCell { run: string; day: string; machine: string; gpu: string; stage: string; errorType: string; n: number }

/** Time a prediction worker spent predicting, as the union of its predictions' intervals (two slots at once count once). */
export interface BusyCell { run: string; worker: string; machine: string; gpu: string; busyS: number; predictS: number; predictions: number; islands: number }

/** One stretch of a prediction worker's time with at least one prediction running. */
export interface Island { run: string; worker: string; startMs: number; endMs: number }

/** One stage of one image: [started (epoch ms), queue wait s, input load s, compute s, output write s]; null when it did not run. */
export type StageTiming = [number | null, number | null, number, number, number] | null;

/** An image shown individually (the slowest of its run, or one of an even sample over its run's time). */
export interface ImageDetail {
  run: string;
  image: string;
  day: string;
  machines: string[];
  gpu: string;
  success: boolean;
  failedStage: string | null;
  totalS: number | null;
  mpx: number | null;
  cells: number | null;
  stages: Record<DashboardStage, StageTiming>;
  /** Among its run's slowest (the per-image time chart) / in its run's timeline sample. */
  slow: boolean;
  sampled: boolean;
}

/** One point of a megapixels-vs-time/memory scatter (an even sample over pixels per run and stage). */
export interface ScatterPoint { run: string; stage: DashboardStage; machine: string; gpu: string; day: string; image: string; mpx: number; computeS: number | null; memGb: number | null }

export interface FailureDetail { run: string; image: string; imageUri: string | null; stage: string | null; errorType: string | null; error: string | null; atMs: number | null; day: string; machine: string; gpu: string }

export interface DashboardData {
  version: 1;
  source: { kind: 'duckdb' | 'bigquery'; name: string };
  generatedAtMs: number;
  /** Present on a page served live: it polls `url` every `refreshS` seconds. */
  live?: { refreshS: number; url: string };
  /** Things the reader should know (columns missing from an older table, caps applied). */
  notes: string[];
  prices: PriceEntry[];
  /** Rows in the store for the selected runs. */
  rows: number;
  runs: RunInfo[];
  imageCells: ImageCell[];
  stageCells: StageCell[];
  failureCells: FailureCell[];
  busy: BusyCell[];
  islands: Island[];
  images: ImageDetail[];
  points: ScatterPoint[];
  failures: FailureDetail[];
  caps: { imagesPerRun: number; pointsPerRunStage: number; failuresPerRun: number; islandsPerRun: number };
}

/** What the page says instead of charts when there is nothing to draw (never a blank page). */
export interface DashboardProblem { problem: string; source?: DashboardData['source']; live?: DashboardData['live'] }
