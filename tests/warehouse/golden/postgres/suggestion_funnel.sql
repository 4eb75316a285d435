WITH requests AS (
  SELECT
    s.suggestion_id,
    s.session_id,
    s.shown_at,
    CASE WHEN s.outcome <> 'not_shown' THEN 1 ELSE 0 END AS is_shown,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS is_accepted,
    CASE
      WHEN s.outcome IN ('accepted', 'partially_accepted') AND NOT p.suggestion_id IS NULL
      THEN 1
      ELSE 0
    END AS is_unchanged
  FROM suggestions AS s
  INNER JOIN sessions AS se
    ON se.session_id = s.session_id
  INNER JOIN users AS u
    ON u.user_id = s.user_id
  LEFT JOIN persistence AS p
    ON p.suggestion_id = s.suggestion_id AND p.check_after_s = 30 AND p.edit_ratio = 0
  WHERE
    (
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
), test_runs AS (
  SELECT
    t.session_id,
    t.ran_at,
    CASE WHEN t.compile_ok AND t.tests_failed = 0 THEN 1 ELSE 0 END AS passed,
    LAG(t.ran_at) OVER (PARTITION BY t.session_id ORDER BY t.ran_at, t.run_id) AS previous_ran_at
  FROM runs AS t
  WHERE
    t.kind = 'test'
), passing AS (
  SELECT
    CAST(COALESCE(SUM(t.passed), 0) AS BIGINT) AS tests_pass
  FROM requests AS r
  INNER JOIN test_runs AS t
    ON t.session_id = r.session_id
    AND r.shown_at <= t.ran_at
    AND (
      t.previous_ran_at IS NULL OR r.shown_at > t.previous_ran_at
    )
  WHERE
    r.is_unchanged = 1
), totals AS (
  SELECT
    COUNT(*) AS opportunities,
    CAST(SUM(r.is_shown) AS BIGINT) AS shown,
    CAST(SUM(r.is_accepted) AS BIGINT) AS accepted,
    CAST(SUM(r.is_unchanged) AS BIGINT) AS unchanged_30s,
    MAX(pa.tests_pass) AS tests_pass
  FROM requests AS r
  CROSS JOIN passing AS pa
), steps AS (
  SELECT
    1 AS step_order,
    'opportunity' AS step,
    opportunities AS suggestions
  FROM totals
  UNION ALL
  SELECT
    2 AS step_order,
    'shown' AS step,
    COALESCE(shown, 0) AS suggestions
  FROM totals
  UNION ALL
  SELECT
    3 AS step_order,
    'accepted' AS step,
    COALESCE(accepted, 0) AS suggestions
  FROM totals
  UNION ALL
  SELECT
    4 AS step_order,
    'unchanged_30s' AS step,
    COALESCE(unchanged_30s, 0) AS suggestions
  FROM totals
  UNION ALL
  SELECT
    5 AS step_order,
    'tests_pass' AS step,
    COALESCE(tests_pass, 0) AS suggestions
  FROM totals
)
SELECT
  CAST(step_order AS INT) AS step_order,
  step,
  CAST(suggestions AS BIGINT) AS suggestions,
  CAST(suggestions AS DOUBLE PRECISION) / NULLIF(LAG(suggestions) OVER (ORDER BY step_order), 0) AS step_conversion,
  CAST(suggestions AS DOUBLE PRECISION) / NULLIF(FIRST_VALUE(suggestions) OVER (ORDER BY step_order), 0) AS overall_conversion
FROM steps
ORDER BY
  step_order
