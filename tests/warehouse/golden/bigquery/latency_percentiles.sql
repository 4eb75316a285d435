-- warning: BigQuery has no exact aggregate percentile: PERCENTILE_CONT(q) WITHIN GROUP is approximated by APPROX_QUANTILES(x, 1000)[OFFSET(round(1000 q))] (no interpolation; for latency_ms)
/* The three percentiles come from one PERCENTILE_CONT with a list of fractions (one sort */
/* of each group instead of three; Spark: percentile(x, array(...))). */
WITH shown AS (
  SELECT
    s.model_version,
    s.language,
    s.latency_ms
  FROM suggestions AS s
  INNER JOIN sessions AS se
    ON se.session_id = s.session_id
  INNER JOIN users AS u
    ON u.user_id = s.user_id
  WHERE
    s.outcome <> 'not_shown'
    AND (
      @start_date IS NULL OR CAST(s.shown_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(s.shown_at AS DATE) <= @end_date
    )
    AND (
      @language IS NULL OR s.language = @language
    )
    AND (
      @editor IS NULL OR se.editor = @editor
    )
    AND (
      @segment IS NULL OR u.segment = @segment
    )
    AND (
      @model_version IS NULL OR s.model_version = @model_version
    )
), cells AS (
  SELECT
    model_version,
    language,
    COUNT(*) AS shown,
    AVG(latency_ms) AS mean_ms,
    [
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(500)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(900)],
      APPROX_QUANTILES(latency_ms, 1000)[OFFSET(990)]
    ] AS latency_ms_q
  FROM shown
  GROUP BY
    model_version,
    language
)
SELECT
  model_version,
  language,
  shown,
  mean_ms,
  CAST(latency_ms_q[0] AS FLOAT64) AS p50_ms,
  CAST(latency_ms_q[1] AS FLOAT64) AS p90_ms,
  CAST(latency_ms_q[2] AS FLOAT64) AS p99_ms
FROM cells
ORDER BY
  model_version NULLS LAST,
  language NULLS LAST
