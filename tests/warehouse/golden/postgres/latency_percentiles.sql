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
      %(start_date)s IS NULL OR CAST(s.shown_at AS DATE) >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR CAST(s.shown_at AS DATE) <= %(end_date)s
    )
    AND (
      %(language)s IS NULL OR s.language = %(language)s
    )
    AND (
      %(editor)s IS NULL OR se.editor = %(editor)s
    )
    AND (
      %(segment)s IS NULL OR u.segment = %(segment)s
    )
    AND (
      %(model_version)s IS NULL OR s.model_version = %(model_version)s
    )
), cells AS (
  SELECT
    model_version,
    language,
    COUNT(*) AS shown,
    AVG(latency_ms) AS mean_ms,
    PERCENTILE_CONT(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY
      latency_ms) AS latency_ms_q
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
  CAST(latency_ms_q[1] AS DOUBLE PRECISION) AS p50_ms,
  CAST(latency_ms_q[2] AS DOUBLE PRECISION) AS p90_ms,
  CAST(latency_ms_q[3] AS DOUBLE PRECISION) AS p99_ms
FROM cells
ORDER BY
  model_version,
  language
