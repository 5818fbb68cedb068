import { baseCtes, type BaseOptions, type Dialect } from './sql';

/** How many individual images, points, failures and busy stretches the page gets per run (and per stage). */
export interface Caps { imagesPerRun: number; pointsPerRunStage: number; failuresPerRun: number; islandsPerRun: number }

/**
 * Caps that keep the page to a few thousand drawn marks whatever the store holds: the budget is shared
 * among the runs shown, with a floor so every run keeps a readable sample.
 */
export function capsFor(runs: number): Caps {
  const share = (total: number, floor: number, ceiling: number) => Math.max(floor, Math.min(ceiling, Math.floor(total / Math.max(1, runs))));
  return { imagesPerRun: share(2000, 30, 400), pointsPerRunStage: share(1000, 20, 300), failuresPerRun: share(1000, 20, 500), islandsPerRun: share(10000, 200, 5000) };
}

/** The runs in the store (every run, for choosing and validating `--run`), latest first. */
export function runsQuery(d: Dialect, o: BaseOptions): string {
  return `${baseCtes(d, o)}
  SELECT run_id AS run, COUNT(*) AS images, MIN(first_ms) AS first_ms, MAX(recorded_ms) AS last_ms, MIN(command_line) AS command_line,
    MIN(settings_hash) AS settings_hash, COUNT(DISTINCT settings_hash) AS settings_hashes, MIN(model_name) AS model_name
  FROM r GROUP BY run_id ORDER BY last_ms DESC, run_id`;
}

/** Machine types seen in any stage (to look their prices up). */
export function machinesQuery(d: Dialect, o: BaseOptions): string {
  return `${baseCtes(d, o)}
  SELECT DISTINCT machine FROM st ORDER BY machine`;
}

/** Image-level sums per run, day and machines ({@link ImageCell}). */
export function imageCellsQuery(d: Dialect, o: BaseOptions): string {
  return `${baseCtes(d, o)}
  SELECT run_id AS run, day, preprocessing_instance_type AS m1, prediction_instance_type AS m2, postprocessing_instance_type AS m3, gpu,
    COUNT(*) AS images, SUM(CASE WHEN success THEN 1 ELSE 0 END) AS done,
    COALESCE(SUM(CASE WHEN success THEN cells END), 0) AS cells, COALESCE(SUM(CASE WHEN success THEN pixels END), 0) / 1e6 AS mpx,
    COALESCE(SUM(total_time_s), 0) AS image_s, COALESCE(SUM(image_cost), 0) AS cost_usd, COALESCE(SUM(image_unpriced_s), 0) AS unpriced_s,
    MIN(first_ms) AS first_ms, MAX(recorded_ms) AS last_ms
  FROM r GROUP BY run_id, day, preprocessing_instance_type, prediction_instance_type, postprocessing_instance_type, gpu`;
}

/** Stage-level sums, including the sufficient statistics of the megapixels-vs-time and -vs-memory fits ({@link StageCell}). */
export function stageCellsQuery(d: Dialect, o: BaseOptions): string {
  return `${baseCtes(d, o)}, f AS (
    SELECT st.*,
      CASE WHEN mpx IS NOT NULL AND fit_s IS NOT NULL THEN mpx END AS tx, CASE WHEN mpx IS NOT NULL AND fit_s IS NOT NULL THEN fit_s END AS ty,
      CASE WHEN mpx IS NOT NULL AND mem_gb IS NOT NULL THEN mpx END AS mx, CASE WHEN mpx IS NOT NULL AND mem_gb IS NOT NULL THEN mem_gb END AS my
    FROM st
  )
  SELECT run_id AS run, stage, queue, day, machine, gpu, COUNT(*) AS n,
    SUM(load_s) AS load_s, SUM(compute_s) AS compute_s, SUM(write_s) AS write_s,
    COUNT(wait_s) AS wait_n, COALESCE(SUM(wait_s), 0) AS wait_s, MAX(wait_s) AS wait_max_s,
    COUNT(attempts) AS attempts_n, COALESCE(SUM(attempts), 0) AS attempts, SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS retried,
    COALESCE(SUM(mpx), 0) AS mpx,
    SUM(CASE WHEN num_gpus > 0 THEN seconds * num_gpus ELSE 0 END) AS gpu_s, SUM(CASE WHEN num_gpus > 0 THEN 0 ELSE seconds END) AS cpu_s,
    COALESCE(SUM(seconds * usd_per_hour / 3600), 0) AS cost_usd, SUM(CASE WHEN usd_per_hour IS NULL THEN seconds ELSE 0 END) AS unpriced_s,
    COUNT(tx) AS t_n, COALESCE(SUM(tx), 0) AS t_sx, COALESCE(SUM(ty), 0) AS t_sy, COALESCE(SUM(tx * tx), 0) AS t_sxx,
    COALESCE(SUM(tx * ty), 0) AS t_sxy, COALESCE(SUM(ty * ty), 0) AS t_syy,
    COUNT(mx) AS m_n, COALESCE(SUM(mx), 0) AS m_sx, COALESCE(SUM(my), 0) AS m_sy, COALESCE(SUM(mx * mx), 0) AS m_sxx,
    COALESCE(SUM(mx * my), 0) AS m_sxy, COALESCE(SUM(my * my), 0) AS m_syy, MAX(mem_gb) AS mem_max_gb
  FROM f GROUP BY run_id, stage, queue, day, machine, gpu`;
}

/** Failures counted by stage and error type ({@link FailureCell}). */
export function failureCellsQuery(d: Dialect, o: BaseOptions): string {
  return `${baseCtes(d, o)}
  SELECT run_id AS run, day, preprocessing_instance_type AS m1, prediction_instance_type AS m2, postprocessing_instance_type AS m3, gpu,
    COALESCE(failed_stage, '(unknown)') AS stage, COALESCE(error_type, '(unknown)') AS error_type, COUNT(*) AS n
  FROM r WHERE NOT COALESCE(success, FALSE)
  GROUP BY run_id, day, preprocessing_instance_type, prediction_instance_type, postprocessing_instance_type, gpu, failed_stage, error_type`;
}

/** The latest failures of each run, with file, stage, type and message. */
export function failuresQuery(d: Dialect, o: BaseOptions, caps: Caps): string {
  return `${baseCtes(d, o)}
  SELECT run, image, image_uri, failed_stage, error_type, error, recorded_ms, day, m1, m2, m3, gpu FROM (
    SELECT run_id AS run, input_file_id AS image, image_uri, failed_stage, error_type, error, recorded_ms, day,
      preprocessing_instance_type AS m1, prediction_instance_type AS m2, postprocessing_instance_type AS m3, gpu,
      ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY recorded_ms DESC, input_file_id) AS rn
    FROM r WHERE NOT COALESCE(success, FALSE)
  ) AS x WHERE rn <= ${caps.failuresPerRun} ORDER BY run, recorded_ms DESC, image`;
}

const STAGE_PREFIX = [['conv', 'conversion_queue_wait_s', 'preprocessing_input_load_time_s', 'preprocessing_time_s', 'preprocessing_output_write_time_s'],
  ['pred', 'prediction_queue_wait_s', 'prediction_input_load_time_s', 'prediction_time_s', 'prediction_output_write_time_s'],
  ['post', 'postprocessing_queue_wait_s', 'postprocessing_input_load_time_s', 'postprocessing_time_s', 'postprocessing_output_write_time_s'],
  ['quant', 'quantification_queue_wait_s', 'quantification_input_load_time_s', 'quantification_time_s', 'quantification_output_write_time_s'],
  ['rec', 'NULL', 'NULL', 'NULL', 'record_time_s']] as const;

/**
 * Individual images: each run's slowest `imagesPerRun` (the per-image chart) and an even sample of as
 * many over the run's time (the timeline), with every stage's start, queue wait, load, compute and write.
 * The ranking runs on a narrow projection (a window sort carries every column it is given), then joins back.
 */
export function imagesQuery(d: Dialect, o: BaseOptions, caps: Caps): string {
  const c = caps.imagesPerRun;
  const stageCols = STAGE_PREFIX.map(([p, wait, load, compute, write]) =>
    `${p}_ms, ${d.cast(wait, 'FLOAT')} AS ${p}_wait, ${d.cast(load, 'FLOAT')} AS ${p}_load, ${d.cast(compute, 'FLOAT')} AS ${p}_compute, ${d.cast(write, 'FLOAT')} AS ${p}_write`).join(',\n      ');
  return `${baseCtes(d, o)}, k AS (
    SELECT * FROM (
      SELECT run_id AS krun, input_file_id AS kimage, recorded_ms AS kms,
        ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY total_time_s DESC NULLS LAST, input_file_id, recorded_ms) AS rn_slow,
        ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY first_ms NULLS LAST, input_file_id, recorded_ms) AS rn_time,
        COUNT(*) OVER (PARTITION BY run_id) AS n_run
      FROM r
    ) AS y WHERE rn_slow <= ${c} OR MOD(rn_time - 1, ${d.cast(`CEIL(n_run / ${c}.0)`, 'INTEGER')}) = 0
  )
  SELECT run_id AS run, input_file_id AS image, day, preprocessing_instance_type AS m1, prediction_instance_type AS m2, postprocessing_instance_type AS m3, gpu,
    success, failed_stage, total_time_s, pixels / 1e6 AS mpx, cells,
    ${stageCols},
    rn_slow, rn_time, n_run
  FROM r JOIN k ON r.run_id = k.krun AND r.input_file_id = k.kimage AND r.recorded_ms = k.kms
  ORDER BY run, rn_time`;
}

/**
 * Scatter points: every stage of an even sample of `pointsPerRunStage` images per run, spread over
 * image size (the fits use every row, through the stage cells). Images are ranked, not stage rows: a
 * fifth of the sort.
 */
export function pointsQuery(d: Dialect, o: BaseOptions, caps: Caps): string {
  const p = caps.pointsPerRunStage;
  return `${baseCtes(d, o)}, k AS (
    SELECT krun, kimage, kms FROM (
      SELECT run_id AS krun, input_file_id AS kimage, recorded_ms AS kms,
        ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY pixels, input_file_id, recorded_ms) AS rn, COUNT(*) OVER (PARTITION BY run_id) AS n
      FROM r WHERE pixels IS NOT NULL
    ) AS y WHERE MOD(rn - 1, ${d.cast(`CEIL(n / ${p}.0)`, 'INTEGER')}) = 0
  )
  SELECT run_id AS run, stage, machine, gpu, day, image, mpx, fit_s, mem_gb
  FROM st JOIN k ON st.run_id = k.krun AND st.image = k.kimage AND st.recorded_ms = k.kms
  ORDER BY run, stage, mpx, image`;
}

/** Gaps shorter than this fraction of the run's span merge in the drawn lanes (a pixel of a 960-px chart is 1/800). */
export const LANE_MERGE_FRACTION = 1 / 1500;

/**
 * Prediction workers' busy stretches: each worker's predictions sorted by start; a prediction that
 * starts after every earlier one ended opens a new stretch (gaps-and-islands). `forDrawing` also merges
 * gaps below {@link LANE_MERGE_FRACTION} of the run, which no chart could show, so a long run's lanes
 * stay a few thousand stretches; busy time is computed without it.
 */
function islandCtes(d: Dialect, o: BaseOptions, forDrawing = false): string {
  const gap = forDrawing ? ` + (MAX(e) OVER (PARTITION BY run_id) - MIN(s) OVER (PARTITION BY run_id)) * ${LANE_MERGE_FRACTION}` : '';
  return `${baseCtes(d, o)}, p AS (
    SELECT run_id, COALESCE(worker, '(unknown)') AS worker, machine, gpu, started_ms AS s, started_ms + 1000 * seconds AS e
    FROM st WHERE stage = 'predict' AND started_ms IS NOT NULL
  ), o AS (
    SELECT p.*, MAX(e) OVER (PARTITION BY run_id, worker ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)${gap} AS prev_e FROM p
  ), g AS (
    SELECT o.*, SUM(CASE WHEN prev_e IS NULL OR s > prev_e THEN 1 ELSE 0 END)
      OVER (PARTITION BY run_id, worker ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island FROM o
  ), i AS (
    SELECT run_id, worker, island, MIN(machine) AS machine, MIN(gpu) AS gpu, MIN(s) AS s, MAX(e) AS e, COUNT(*) AS n, SUM(e - s) AS predict_ms
    FROM g GROUP BY run_id, worker, island
  )`;
}

/** Per prediction worker: busy time (the union of its predictions), summed prediction time, counts ({@link BusyCell}). */
export function busyQuery(d: Dialect, o: BaseOptions): string {
  return `${islandCtes(d, o)}
  SELECT run_id AS run, worker, MIN(machine) AS machine, MIN(gpu) AS gpu, SUM(e - s) / 1000 AS busy_s, SUM(predict_ms) / 1000 AS predict_s,
    SUM(n) AS predictions, COUNT(*) AS islands
  FROM i GROUP BY run_id, worker ORDER BY run, worker`;
}

/** The busy stretches as drawn in the timeline's worker lanes (the first `islandsPerRun` of each run). */
export function islandsQuery(d: Dialect, o: BaseOptions, caps: Caps): string {
  return `${islandCtes(d, o, true)}
  SELECT run_id AS run, worker, s, e FROM (
    SELECT i.*, ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY s, worker) AS rn FROM i
  ) AS x WHERE rn <= ${caps.islandsPerRun} ORDER BY run, worker, s`;
}
