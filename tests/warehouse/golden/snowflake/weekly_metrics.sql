WITH shown AS (
  SELECT
    CAST(s.shown_at AS DATE) AS day,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted,
    s.latency_ms
  FROM suggestions AS s
  INNER JOIN sessions AS se
    ON se.session_id = s.session_id
  INNER JOIN users AS u
    ON u.user_id = s.user_id
  WHERE
    s.outcome <> 'not_shown'
    AND (
      :language IS NULL OR s.language = :language
    )
    AND (
      :editor IS NULL OR se.editor = :editor
    )
    AND (
      :segment IS NULL OR u.segment = :segment
    )
    AND (
      :model_version IS NULL OR s.model_version = :model_version
    )
), tests AS (
  SELECT
    CAST(r.ran_at AS DATE) AS day,
    CASE WHEN r.compile_ok AND r.tests_failed = 0 THEN 1 ELSE 0 END AS passed
  FROM runs AS r
  INNER JOIN sessions AS se
    ON se.session_id = r.session_id
  INNER JOIN users AS u
    ON u.user_id = r.user_id
  WHERE
    r.kind = 'test'
    AND (
      :language IS NULL OR r.language = :language
    )
    AND (
      :editor IS NULL OR se.editor = :editor
    )
    AND (
      :segment IS NULL OR u.segment = :segment
    )
    AND (
      :model_version IS NULL OR r.model_version = :model_version
    )
), shown_by_day AS (
  SELECT
    day,
    COUNT(*) AS shown,
    CAST(SUM(accepted) AS BIGINT) AS accepted,
    SUM(latency_ms) AS latency_ms_sum
  FROM shown
  GROUP BY
    day
), tests_by_day AS (
  SELECT
    day,
    COUNT(*) AS test_runs,
    CAST(SUM(passed) AS BIGINT) AS tests_passed
  FROM tests
  GROUP BY
    day
), bounds AS (
  SELECT
    MIN(day) AS first_day,
    MAX(day) AS last_day
  FROM (
    SELECT
      day
    FROM shown_by_day
    UNION ALL
    SELECT
      day
    FROM tests_by_day
  ) AS d
), calendar AS (
  SELECT
    CAST(g.day AS DATE) AS day
  FROM (
    SELECT
      IFF(_u.pos = _u_2.pos_2, _u_2.day, NULL) AS day
    FROM bounds AS b
    CROSS JOIN TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(
      0,
      (
        GREATEST(ARRAY_SIZE(ARRAY_GENERATE_RANGE(b.first_day, b.last_day + 1, INTERVAL '1 DAY'))) - 1
      ) + 1
    ))) AS _u(seq, key, path, index, pos, this)
    CROSS JOIN TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(b.first_day, b.last_day + 1, INTERVAL '1 DAY'))) AS _u_2(seq, key, path, pos_2, day, this)
    WHERE
      _u.pos = _u_2.pos_2
      OR (
        _u.pos > (
          ARRAY_SIZE(ARRAY_GENERATE_RANGE(b.first_day, b.last_day + 1, INTERVAL '1 DAY')) - 1
        )
        AND _u_2.pos_2 = (
          ARRAY_SIZE(ARRAY_GENERATE_RANGE(b.first_day, b.last_day + 1, INTERVAL '1 DAY')) - 1
        )
      )
  ) AS g
), daily AS (
  SELECT
    c.day,
    COALESCE(s.shown, 0) AS shown,
    COALESCE(s.accepted, 0) AS accepted,
    COALESCE(s.latency_ms_sum, 0) AS latency_ms_sum,
    COALESCE(t.test_runs, 0) AS test_runs,
    COALESCE(t.tests_passed, 0) AS tests_passed
  FROM calendar AS c
  LEFT JOIN shown_by_day AS s
    ON s.day = c.day
  LEFT JOIN tests_by_day AS t
    ON t.day = c.day
), weekly AS (
  SELECT
    CAST(DATE_TRUNC('WEEK', day) AS DATE) AS week,
    COUNT(*) AS days,
    CAST(SUM(shown) AS BIGINT) AS shown,
    CAST(SUM(accepted) AS BIGINT) AS accepted,
    SUM(latency_ms_sum) AS latency_ms_sum,
    CAST(SUM(test_runs) AS BIGINT) AS test_runs,
    CAST(SUM(tests_passed) AS BIGINT) AS tests_passed
  FROM daily
  GROUP BY
    CAST(DATE_TRUNC('WEEK', day) AS DATE)
), rates AS (
  SELECT
    week,
    days,
    shown,
    accepted,
    CAST(accepted AS DOUBLE) / NULLIF(shown, 0) AS acceptance_rate,
    CAST(latency_ms_sum AS DOUBLE) / NULLIF(shown, 0) AS mean_latency_ms,
    test_runs,
    CAST(tests_passed AS DOUBLE) / NULLIF(test_runs, 0) AS test_pass_rate
  FROM weekly
), changes AS (
  SELECT
    week,
    days,
    shown,
    accepted,
    acceptance_rate,
    mean_latency_ms,
    test_runs,
    test_pass_rate,
    CAST(shown AS DOUBLE) / NULLIF(LAG(shown) OVER (ORDER BY week), 0) - 1 AS shown_wow,
    acceptance_rate - LAG(acceptance_rate) OVER (ORDER BY week) AS acceptance_rate_wow,
    mean_latency_ms / NULLIF(LAG(mean_latency_ms) OVER (ORDER BY week), 0) - 1 AS mean_latency_ms_wow,
    test_pass_rate - LAG(test_pass_rate) OVER (ORDER BY week) AS test_pass_rate_wow
  FROM rates
)
SELECT
  week,
  CAST(days AS INT) AS days,
  shown,
  accepted,
  acceptance_rate,
  mean_latency_ms,
  test_runs,
  test_pass_rate,
  shown_wow,
  acceptance_rate_wow,
  mean_latency_ms_wow,
  test_pass_rate_wow
FROM changes
WHERE
  (
    :start_date IS NULL OR week >= :start_date
  )
  AND (
    :end_date IS NULL OR week <= :end_date
  )
ORDER BY
  week
