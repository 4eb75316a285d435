-- warning: BigQuery has no exact aggregate percentile: PERCENTILE_CONT(q) WITHIN GROUP is approximated by APPROX_QUANTILES(x, 1000)[OFFSET(round(1000 q))] (no interpolation; for latency_ms)
/* The three percentiles come from one PERCENTILE_CONT with a list of fractions (one sort */
/* of each group instead of three; Spark: percentile(x, array(...))). */
WITH shown AS (
  SELECT
    CAST(s.shown_at AS DATE) AS day,
    s.language,
    s.model_version,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted,
    s.latency_ms
  FROM suggestions AS s
  WHERE
    s.outcome <> 'not_shown'
    AND (
      @start_date IS NULL OR CAST(s.shown_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(s.shown_at AS DATE) <= @end_date
    )
), run_flags AS (
  SELECT
    CAST(r.ran_at AS DATE) AS day,
    r.language,
    r.model_version,
    CASE WHEN r.kind = 'test' THEN 1 ELSE 0 END AS is_test,
    CASE WHEN r.kind = 'test' AND r.compile_ok AND r.tests_failed = 0 THEN 1 ELSE 0 END AS passing,
    CASE WHEN r.error_type <> 'none' THEN 1 ELSE 0 END AS is_error
  FROM runs AS r
  WHERE
    (
      @start_date IS NULL OR CAST(r.ran_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(r.ran_at AS DATE) <= @end_date
    )
), suggestion_cells AS (
  SELECT
    day,
    'overall' AS dimension,
    'all' AS dimension_value,
    COUNT(*) AS shown,
    SUM(accepted) AS accepted,
    [
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(900)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(950)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)]
    ] AS latency_ms_q
  FROM shown
  GROUP BY
    day
  UNION ALL
  SELECT
    day,
    'language' AS dimension,
    language AS dimension_value,
    COUNT(*) AS shown,
    SUM(accepted) AS accepted,
    [
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(900)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(950)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)]
    ] AS latency_ms_q
  FROM shown
  GROUP BY
    day,
    language
  UNION ALL
  SELECT
    day,
    'model_version' AS dimension,
    model_version AS dimension_value,
    COUNT(*) AS shown,
    SUM(accepted) AS accepted,
    [
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(900)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(950)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)]
    ] AS latency_ms_q
  FROM shown
  GROUP BY
    day,
    model_version
), run_cells AS (
  SELECT
    day,
    'overall' AS dimension,
    'all' AS dimension_value,
    SUM(is_test) AS test_runs,
    SUM(passing) AS tests_passing,
    COUNT(*) AS runs,
    SUM(is_error) AS error_runs
  FROM run_flags
  GROUP BY
    day
  UNION ALL
  SELECT
    day,
    'language' AS dimension,
    language AS dimension_value,
    SUM(is_test) AS test_runs,
    SUM(passing) AS tests_passing,
    COUNT(*) AS runs,
    SUM(is_error) AS error_runs
  FROM run_flags
  GROUP BY
    day,
    language
  UNION ALL
  SELECT
    day,
    'model_version' AS dimension,
    model_version AS dimension_value,
    SUM(is_test) AS test_runs,
    SUM(passing) AS tests_passing,
    COUNT(*) AS runs,
    SUM(is_error) AS error_runs
  FROM run_flags
  WHERE
    NOT model_version IS NULL
  GROUP BY
    day,
    model_version
), cells AS (
  SELECT
    COALESCE(s.day, r.day) AS day,
    COALESCE(s.dimension, r.dimension) AS dimension,
    COALESCE(s.dimension_value, r.dimension_value) AS dimension_value,
    COALESCE(s.shown, 0) AS shown,
    COALESCE(s.accepted, 0) AS accepted,
    s.latency_ms_q[0] AS latency_p90_ms,
    s.latency_ms_q[1] AS latency_p95_ms,
    s.latency_ms_q[2] AS latency_p99_ms,
    COALESCE(r.test_runs, 0) AS test_runs,
    COALESCE(r.tests_passing, 0) AS tests_passing,
    COALESCE(r.runs, 0) AS runs,
    COALESCE(r.error_runs, 0) AS error_runs
  FROM suggestion_cells AS s
  FULL OUTER JOIN run_cells AS r
    ON s.day = r.day
    AND s.dimension = r.dimension
    AND s.dimension_value = r.dimension_value
)
SELECT
  day,
  dimension,
  dimension_value,
  CAST(shown AS INT64) AS shown,
  CAST(accepted AS INT64) AS accepted,
  CAST(accepted AS FLOAT64) / NULLIF(shown, 0) AS acceptance_rate,
  CAST(latency_p90_ms AS FLOAT64) AS latency_p90_ms,
  CAST(latency_p95_ms AS FLOAT64) AS latency_p95_ms,
  CAST(latency_p99_ms AS FLOAT64) AS latency_p99_ms,
  CAST(test_runs AS INT64) AS test_runs,
  CAST(tests_passing AS INT64) AS tests_passing,
  CAST(tests_passing AS FLOAT64) / NULLIF(test_runs, 0) AS test_pass_rate,
  CAST(runs AS INT64) AS runs,
  CAST(error_runs AS INT64) AS error_runs,
  CAST(error_runs AS FLOAT64) / NULLIF(runs, 0) AS error_rate
FROM cells
WHERE
  (
    @dimension IS NULL OR dimension = @dimension
  )
ORDER BY
  day NULLS LAST,
  dimension NULLS LAST,
  dimension_value NULLS LAST
