WITH filtered AS (
  SELECT
    r.model_version,
    r.language,
    r.kind,
    r.compile_ok,
    r.tests_passed,
    r.tests_failed
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
), counts AS (
  SELECT
    model_version,
    language,
    CAST(SUM(CASE WHEN kind = 'build' THEN 1 ELSE 0 END) AS INT64) AS build_runs,
    CAST(SUM(CASE WHEN kind = 'build' AND NOT compile_ok THEN 1 ELSE 0 END) AS INT64) AS compile_failures,
    CAST(SUM(CASE WHEN kind = 'test' THEN 1 ELSE 0 END) AS INT64) AS test_runs,
    CAST(SUM(CASE WHEN kind = 'test' AND compile_ok AND tests_failed = 0 THEN 1 ELSE 0 END) AS INT64) AS test_passes,
    CAST(SUM(CASE WHEN kind = 'test' THEN tests_passed ELSE 0 END) AS INT64) AS tests_passed,
    CAST(SUM(CASE WHEN kind = 'test' THEN tests_failed ELSE 0 END) AS INT64) AS tests_failed
  FROM filtered
  GROUP BY
    model_version,
    language
)
SELECT
  model_version,
  language,
  build_runs,
  compile_failures,
  CAST(compile_failures AS FLOAT64) / NULLIF(build_runs, 0) AS compile_failure_rate,
  test_runs,
  test_passes,
  CAST(test_passes AS FLOAT64) / NULLIF(test_runs, 0) AS test_pass_rate,
  1 - CAST(test_passes AS FLOAT64) / NULLIF(test_runs, 0) AS test_failure_rate,
  tests_passed,
  tests_failed
FROM counts
ORDER BY
  model_version NULLS LAST,
  language NULLS LAST
