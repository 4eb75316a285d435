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
      @start_date IS NULL OR CAST(r.ran_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(r.ran_at AS DATE) <= @end_date
    )
    AND (
      @language IS NULL OR r.language = @language
    )
    AND (
      @editor IS NULL OR se.editor = @editor
    )
    AND (
      @segment IS NULL OR u.segment = @segment
    )
    AND (
      @model_version IS NULL OR r.model_version = @model_version
    )
    AND (
      @kind IS NULL OR r.kind = @kind
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
  CAST(runs AS FLOAT64) / SUM(runs) OVER (PARTITION BY model_version, language) AS share_of_errors,
  CAST(runs AS FLOAT64) / NULLIF(cell_runs, 0) AS share_of_runs
FROM by_type
WHERE
  error_type <> 'none'
ORDER BY
  model_version NULLS LAST,
  language NULLS LAST,
  runs DESC,
  error_type NULLS LAST
