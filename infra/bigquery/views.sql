-- Views over the Tessel benchmark table (schema: infra/bigquery/schema.json).
-- Replace `PROJECT.DATASET.TABLE` (e.g. with sed) and run with:  bq query --use_legacy_sql=false < infra/bigquery/views.sql
-- Views are created beside the table, in the same dataset.

-- One row per run: images, successes, failures, pixels, cells, wall time and estimated cost.
CREATE OR REPLACE VIEW `PROJECT.DATASET.run_summary` AS
SELECT
  run_id,
  MIN(benchmark_datetime_utc) AS first_row_utc,
  MAX(benchmark_datetime_utc) AS last_row_utc,
  COUNT(*) AS images,
  COUNTIF(success) AS succeeded,
  COUNTIF(NOT success OR success IS NULL) AS failed,
  SUM(pixels) AS pixels,
  SUM(cells) AS cells,
  SUM(total_time_s) AS image_seconds,
  DATETIME_DIFF(MAX(benchmark_datetime_utc), MIN(benchmark_datetime_utc), SECOND) AS span_s,
  SAFE_DIVIDE(SUM(pixels) / 1e6, SUM(total_time_s)) AS megapixels_per_image_second,
  SUM(estimated_cost_usd) AS estimated_cost_usd,
  SAFE_DIVIDE(SUM(estimated_cost_usd), SUM(pixels) / 1e9) AS usd_per_gigapixel,
  ARRAY_AGG(DISTINCT failed_stage IGNORE NULLS) AS failed_stages
FROM `PROJECT.DATASET.TABLE`
GROUP BY run_id;

-- Per run and stage: p50/p95/max of compute time, input load, output write, queue wait and peak memory,
-- over successful images. Stages are unpivoted from the wide deepcell-imaging-style columns.
CREATE OR REPLACE VIEW `PROJECT.DATASET.stage_percentiles` AS
WITH stages AS (
  SELECT run_id, 'convert' AS stage, preprocessing_time_s AS time_s, preprocessing_input_load_time_s AS load_s,
         preprocessing_output_write_time_s AS write_s, conversion_queue_wait_s AS queue_wait_s,
         preprocessing_peak_memory_gb AS peak_memory_gb, pixels
  FROM `PROJECT.DATASET.TABLE` WHERE preprocessing_success
  UNION ALL
  SELECT run_id, 'predict', prediction_time_s, prediction_input_load_time_s, prediction_output_write_time_s,
         prediction_queue_wait_s, prediction_peak_memory_gb, pixels
  FROM `PROJECT.DATASET.TABLE` WHERE prediction_success
  UNION ALL
  SELECT run_id, 'postprocess', postprocessing_time_s, postprocessing_input_load_time_s, postprocessing_output_write_time_s,
         postprocessing_queue_wait_s, postprocessing_peak_memory_gb, pixels
  FROM `PROJECT.DATASET.TABLE` WHERE postprocessing_success
  UNION ALL
  SELECT run_id, 'quantify', quantification_time_s, quantification_input_load_time_s, quantification_output_write_time_s,
         quantification_queue_wait_s, NULL, pixels
  FROM `PROJECT.DATASET.TABLE` WHERE quantification_time_s IS NOT NULL
)
SELECT
  run_id,
  stage,
  COUNT(*) AS images,
  APPROX_QUANTILES(time_s, 100)[OFFSET(50)] AS time_s_p50,
  APPROX_QUANTILES(time_s, 100)[OFFSET(95)] AS time_s_p95,
  MAX(time_s) AS time_s_max,
  APPROX_QUANTILES(load_s, 100)[OFFSET(50)] AS input_load_s_p50,
  APPROX_QUANTILES(write_s, 100)[OFFSET(50)] AS output_write_s_p50,
  APPROX_QUANTILES(queue_wait_s, 100)[OFFSET(50)] AS queue_wait_s_p50,
  APPROX_QUANTILES(queue_wait_s, 100)[OFFSET(95)] AS queue_wait_s_p95,
  APPROX_QUANTILES(peak_memory_gb, 100)[OFFSET(95)] AS peak_memory_gb_p95,
  -- seconds per megapixel, comparable across image sizes
  APPROX_QUANTILES(SAFE_DIVIDE(time_s, pixels / 1e6), 100)[OFFSET(50)] AS s_per_megapixel_p50
FROM stages
GROUP BY run_id, stage;

-- One row per image per stage with when it was queued and started (tessel dashboard's timeline): a gap between
-- one stage's end and the next one's queued_at is time the image spent in no queue; queue_wait_s is time waiting for a worker.
CREATE OR REPLACE VIEW `PROJECT.DATASET.stage_timeline` AS
WITH stages AS (
  SELECT run_id, input_file_id, 'convert' AS stage, conversion_started_at AS started_at, conversion_queue_wait_s AS queue_wait_s,
         COALESCE(preprocessing_input_load_time_s, 0) + COALESCE(preprocessing_time_s, 0) + COALESCE(preprocessing_output_write_time_s, 0) AS seconds,
         preprocessing_instance_type AS instance_type, preprocessing_gpu_type AS gpu_type, CAST(NULL AS STRING) AS worker
  FROM `PROJECT.DATASET.TABLE`
  UNION ALL
  SELECT run_id, input_file_id, 'predict', prediction_started_at, prediction_queue_wait_s,
         COALESCE(prediction_input_load_time_s, 0) + COALESCE(prediction_time_s, 0) + COALESCE(prediction_output_write_time_s, 0),
         prediction_instance_type, prediction_gpu_type, prediction_worker
  FROM `PROJECT.DATASET.TABLE`
  UNION ALL
  SELECT run_id, input_file_id, 'postprocess', postprocessing_started_at, postprocessing_queue_wait_s,
         COALESCE(postprocessing_input_load_time_s, 0) + COALESCE(postprocessing_time_s, 0) + COALESCE(postprocessing_output_write_time_s, 0),
         postprocessing_instance_type, postprocessing_gpu_type, cpu_worker
  FROM `PROJECT.DATASET.TABLE`
  UNION ALL
  SELECT run_id, input_file_id, 'quantify', quantification_started_at, quantification_queue_wait_s, quantification_time_s,
         COALESCE(postprocessing_instance_type, preprocessing_instance_type), NULL, cpu_worker
  FROM `PROJECT.DATASET.TABLE`
  UNION ALL
  SELECT run_id, input_file_id, 'record', record_started_at, NULL, record_time_s,
         COALESCE(postprocessing_instance_type, preprocessing_instance_type), NULL, NULL
  FROM `PROJECT.DATASET.TABLE`
)
SELECT
  run_id, input_file_id, stage, instance_type, gpu_type, worker,
  DATETIME_SUB(started_at, INTERVAL CAST(ROUND(COALESCE(queue_wait_s, 0) * 1e6) AS INT64) MICROSECOND) AS queued_at,
  started_at,
  DATETIME_ADD(started_at, INTERVAL CAST(ROUND(seconds * 1e6) AS INT64) MICROSECOND) AS ended_at,
  queue_wait_s,
  seconds
FROM stages
WHERE started_at IS NOT NULL;
