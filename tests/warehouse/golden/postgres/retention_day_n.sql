WITH observed AS (
  SELECT
    CAST(MIN(started_at) AS DATE) AS first_day,
    CAST(MAX(started_at) AS DATE) AS last_day
  FROM sessions
), cohort AS (
  SELECT
    u.user_id,
    CAST(u.signup_at AS DATE) AS signup_day,
    CAST(DATE_TRUNC('WEEK', CAST(u.signup_at AS DATE)) AS DATE) AS cohort_week
  FROM users AS u
  WHERE
    (
      %(start_date)s IS NULL OR CAST(u.signup_at AS DATE) >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR CAST(u.signup_at AS DATE) <= %(end_date)s
    )
    AND (
      %(segment)s IS NULL OR u.segment = %(segment)s
    )
), activity AS (
  SELECT DISTINCT
    c.user_id,
    (
      CAST(se.started_at AS DATE) - CAST(c.signup_day AS DATE)
    ) AS day_n
  FROM cohort AS c
  INNER JOIN sessions AS se
    ON se.user_id = c.user_id
), last_active AS (
  SELECT
    user_id,
    MAX(day_n) AS last_day_n
  FROM activity
  GROUP BY
    user_id
), report_days AS (
  SELECT DISTINCT
    CAST(d.day_n AS INT) AS day_n
  FROM (
    SELECT
      UNNEST(%(days)s) AS day_n
  ) AS d
), grid AS (
  SELECT
    c.user_id,
    c.cohort_week,
    r.day_n,
    CASE
      WHEN (
        c.signup_day + (
          INTERVAL '1' * r.day_n
        )
      ) >= o.first_day
      AND (
        c.signup_day + (
          INTERVAL '1' * r.day_n
        )
      ) <= o.last_day
      THEN 1
      ELSE 0
    END AS eligible
  FROM cohort AS c
  CROSS JOIN report_days AS r
  CROSS JOIN observed AS o
), counts AS (
  SELECT
    g.cohort_week,
    g.day_n,
    COUNT(*) AS cohort_users,
    CAST(SUM(g.eligible) AS BIGINT) AS eligible_users,
    CAST(SUM(CASE WHEN g.eligible = 1 AND NOT a.user_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS retained_on,
    CAST(SUM(CASE WHEN g.eligible = 1 AND l.last_day_n >= g.day_n THEN 1 ELSE 0 END) AS BIGINT) AS retained_on_or_after
  FROM grid AS g
  LEFT JOIN activity AS a
    ON a.user_id = g.user_id AND a.day_n = g.day_n
  LEFT JOIN last_active AS l
    ON l.user_id = g.user_id
  GROUP BY
    g.cohort_week,
    g.day_n
)
SELECT
  cohort_week,
  day_n,
  cohort_users,
  eligible_users,
  retained_on,
  retained_on_or_after,
  CAST(retained_on AS DOUBLE PRECISION) / NULLIF(eligible_users, 0) AS retention_on,
  CAST(retained_on_or_after AS DOUBLE PRECISION) / NULLIF(eligible_users, 0) AS retention_on_or_after
FROM counts
ORDER BY
  cohort_week,
  day_n
