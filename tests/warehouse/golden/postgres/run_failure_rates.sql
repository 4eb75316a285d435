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
), counts AS (
  SELECT
    model_version,
    language,
    CAST(SUM(CASE WHEN kind = 'build' THEN 1 ELSE 0 END) AS BIGINT) AS build_runs,
    CAST(SUM(CASE WHEN kind = 'build' AND NOT compile_ok THEN 1 ELSE 0 END) AS BIGINT) AS compile_failures,
    CAST(SUM(CASE WHEN kind = 'test' THEN 1 ELSE 0 END) AS BIGINT) AS test_runs,
    CAST(SUM(CASE WHEN kind = 'test' AND compile_ok AND tests_failed = 0 THEN 1 ELSE 0 END) AS BIGINT) AS test_passes,
    CAST(SUM(CASE WHEN kind = 'test' THEN tests_passed ELSE 0 END) AS BIGINT) AS tests_passed,
    CAST(SUM(CASE WHEN kind = 'test' THEN tests_failed ELSE 0 END) AS BIGINT) AS tests_failed
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
  CAST(compile_failures AS DOUBLE PRECISION) / NULLIF(build_runs, 0) AS compile_failure_rate,
  test_runs,
  test_passes,
  CAST(test_passes AS DOUBLE PRECISION) / NULLIF(test_runs, 0) AS test_pass_rate,
  1 - CAST(test_passes AS DOUBLE PRECISION) / NULLIF(test_runs, 0) AS test_failure_rate,
  tests_passed,
  tests_failed
FROM counts
ORDER BY
  model_version,
  language
