WITH observed AS (
  SELECT
    CAST(MIN(started_at) AS DATE) AS first_day,
    CAST(MAX(started_at) AS DATE) AS last_day
  FROM sessions
), cohort AS (
  SELECT
    u.user_id,
    CAST(u.signup_at AS DATE) AS signup_day,
    CAST(DATE_TRUNC(CAST(u.signup_at AS DATE), WEEK) AS DATE) AS cohort_week
  FROM users AS u
  WHERE
    (
      @start_date IS NULL OR CAST(u.signup_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(u.signup_at AS DATE) <= @end_date
    )
    AND (
      @segment IS NULL OR u.segment = @segment
    )
), activity AS (
  SELECT DISTINCT
    c.user_id,
    DATE_DIFF(CAST(se.started_at AS DATE), c.signup_day, DAY) AS day_n
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
    CAST(d.day_n AS INT64) AS day_n
  FROM (
    SELECT
      IF(pos = pos_2, day_n, NULL) AS day_n
    FROM UNNEST(GENERATE_ARRAY(0, GREATEST(ARRAY_LENGTH(@days)) - 1)) AS pos
    CROSS JOIN UNNEST(@days) AS day_n WITH OFFSET AS pos_2
    WHERE
      pos = pos_2
      OR (
        pos > (
          ARRAY_LENGTH(@days) - 1
        ) AND pos_2 = (
          ARRAY_LENGTH(@days) - 1
        )
      )
  ) AS d
), grid AS (
  SELECT
    c.user_id,
    c.cohort_week,
    r.day_n,
    CASE
      WHEN DATE_ADD(c.signup_day, INTERVAL r.day_n DAY) >= o.first_day
      AND DATE_ADD(c.signup_day, INTERVAL r.day_n DAY) <= o.last_day
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
    CAST(SUM(g.eligible) AS INT64) AS eligible_users,
    CAST(SUM(CASE WHEN g.eligible = 1 AND NOT a.user_id IS NULL THEN 1 ELSE 0 END) AS INT64) AS retained_on,
    CAST(SUM(CASE WHEN g.eligible = 1 AND l.last_day_n >= g.day_n THEN 1 ELSE 0 END) AS INT64) AS retained_on_or_after
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
  CAST(retained_on AS FLOAT64) / NULLIF(eligible_users, 0) AS retention_on,
  CAST(retained_on_or_after AS FLOAT64) / NULLIF(eligible_users, 0) AS retention_on_or_after
FROM counts
ORDER BY
  cohort_week NULLS LAST,
  day_n NULLS LAST
