WITH cohort AS (
  SELECT
    u.user_id,
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
), cohort_size AS (
  SELECT
    cohort_week,
    COUNT(*) AS cohort_users
  FROM cohort
  GROUP BY
    cohort_week
), activity AS (
  SELECT DISTINCT
    c.user_id,
    c.cohort_week,
    CAST(DATE_TRUNC('WEEK', CAST(se.started_at AS DATE)) AS DATE) AS activity_week
  FROM cohort AS c
  INNER JOIN sessions AS se
    ON se.user_id = c.user_id
), bounds AS (
  SELECT
    CAST(DATE_TRUNC('WEEK', CAST(MIN(started_at) AS DATE)) AS DATE) AS first_week,
    CAST(DATE_TRUNC('WEEK', CAST(MAX(started_at) AS DATE)) AS DATE) AS last_week
  FROM sessions
), weeks AS (
  SELECT
    CAST(g.activity_week AS DATE) AS activity_week
  FROM (
    SELECT
      UNNEST(GENERATE_SERIES(b.first_week, b.last_week, INTERVAL '7 DAY')) AS activity_week
    FROM bounds AS b
  ) AS g
), active AS (
  SELECT
    cohort_week,
    activity_week,
    COUNT(*) AS active_users
  FROM activity
  GROUP BY
    cohort_week,
    activity_week
)
SELECT
  c.cohort_week,
  CAST(CAST((
    CAST(w.activity_week AS DATE) - CAST(c.cohort_week AS DATE)
  ) AS DOUBLE PRECISION) / 7 AS INT) AS week_n,
  w.activity_week,
  c.cohort_users,
  COALESCE(a.active_users, 0) AS active_users,
  CAST(COALESCE(a.active_users, 0) AS DOUBLE PRECISION) / NULLIF(c.cohort_users, 0) AS retention
FROM cohort_size AS c
INNER JOIN weeks AS w
  ON w.activity_week >= c.cohort_week
LEFT JOIN active AS a
  ON a.cohort_week = c.cohort_week AND a.activity_week = w.activity_week
ORDER BY
  c.cohort_week,
  w.activity_week
