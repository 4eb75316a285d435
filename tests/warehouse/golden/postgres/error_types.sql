WITH filtered AS (
  SELECT
    r.model_version,
    r.language,
    r.error_type
  FROM runs AS r
  INNER JOIN sessions AS se
    ON se.session_id = r.session_id
  INNER JOIN users AS u
    ON u.user_id = r.user_id
  WHERE
    (
      %(start_date)s IS NULL OR CAST(r.ran_at AS DATE) >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR CAST(r.ran_at AS DATE) <= %(end_date)s
    )
    AND (
      %(language)s IS NULL OR r.language = %(language)s
    )
    AND (
      %(editor)s IS NULL OR se.editor = %(editor)s
    )
    AND (
      %(segment)s IS NULL OR u.segment = %(segment)s
    )
    AND (
      %(model_version)s IS NULL OR r.model_version = %(model_version)s
    )
    AND (
      %(kind)s IS NULL OR r.kind = %(kind)s
    )
), by_type AS (
  SELECT
    model_version,
    language,
    error_type,
    COUNT(*) AS runs,
    SUM(COUNT(*)) OVER (PARTITION BY model_version, language) AS cell_runs
  FROM filtered
  GROUP BY
    model_version,
    language,
    error_type
)
SELECT
  model_version,
  language,
  error_type,
  runs,
  CAST(runs AS DOUBLE PRECISION) / SUM(runs) OVER (PARTITION BY model_version, language) AS share_of_errors,
  CAST(runs AS DOUBLE PRECISION) / NULLIF(cell_runs, 0) AS share_of_runs
FROM by_type
WHERE
  error_type <> 'none'
ORDER BY
  model_version,
  language,
  runs DESC NULLS LAST,
  error_type
