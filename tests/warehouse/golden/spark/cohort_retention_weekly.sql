WITH cohort AS (
  SELECT
    u.user_id,
    CAST(TRUNC(CAST(u.signup_at AS DATE), 'WEEK') AS DATE) AS cohort_week
  FROM users AS u
  WHERE
    (
      :start_date IS NULL OR CAST(u.signup_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(u.signup_at AS DATE) <= :end_date
    )
    AND (
      :segment IS NULL OR u.segment = :segment
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
    CAST(TRUNC(CAST(se.started_at AS DATE), 'WEEK') AS DATE) AS activity_week
  FROM cohort AS c
  INNER JOIN sessions AS se
    ON se.user_id = c.user_id
), bounds AS (
  SELECT
    CAST(TRUNC(CAST(MIN(started_at) AS DATE), 'WEEK') AS DATE) AS first_week,
    CAST(TRUNC(CAST(MAX(started_at) AS DATE), 'WEEK') AS DATE) AS last_week
  FROM sessions
), weeks AS (
  SELECT
    CAST(g.activity_week AS DATE) AS activity_week
  FROM (
    SELECT
      EXPLODE(SEQUENCE(b.first_week, b.last_week, INTERVAL '7' DAY)) AS activity_week
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
  CAST(BROUND(DATEDIFF(DAY, c.cohort_week, w.activity_week) / 7) AS INT) AS week_n,
  w.activity_week,
  c.cohort_users,
  COALESCE(a.active_users, 0) AS active_users,
  CAST(COALESCE(a.active_users, 0) AS DOUBLE) / NULLIF(c.cohort_users, 0) AS retention
FROM cohort_size AS c
INNER JOIN weeks AS w
  ON w.activity_week >= c.cohort_week
LEFT JOIN active AS a
  ON a.cohort_week = c.cohort_week AND a.activity_week = w.activity_week
ORDER BY
  c.cohort_week NULLS LAST,
  w.activity_week NULLS LAST
