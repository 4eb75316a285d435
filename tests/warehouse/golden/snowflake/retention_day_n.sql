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
      :start_date IS NULL OR CAST(u.signup_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(u.signup_at AS DATE) <= :end_date
    )
    AND (
      :segment IS NULL OR u.segment = :segment
    )
), activity AS (
  SELECT DISTINCT
    c.user_id,
    DATEDIFF(DAY, c.signup_day, CAST(se.started_at AS DATE)) AS day_n
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
      IFF(_u.pos = _u_2.pos_2, _u_2.day_n, NULL) AS day_n
    FROM TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(0, (
      GREATEST(ARRAY_SIZE(:days)) - 1
    ) + 1))) AS _u(seq, key, path, index, pos, this)
    CROSS JOIN TABLE(FLATTEN(INPUT => :days)) AS _u_2(seq, key, path, pos_2, day_n, this)
    WHERE
      _u.pos = _u_2.pos_2
      OR (
        _u.pos > (
          ARRAY_SIZE(:days) - 1
        ) AND _u_2.pos_2 = (
          ARRAY_SIZE(:days) - 1
        )
      )
  ) AS d
), grid AS (
  SELECT
    c.user_id,
    c.cohort_week,
    r.day_n,
    CASE
      WHEN DATEADD(DAY, r.day_n, c.signup_day) >= o.first_day
      AND DATEADD(DAY, r.day_n, c.signup_day) <= o.last_day
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
  CAST(retained_on AS DOUBLE) / NULLIF(eligible_users, 0) AS retention_on,
  CAST(retained_on_or_after AS DOUBLE) / NULLIF(eligible_users, 0) AS retention_on_or_after
FROM counts
ORDER BY
  cohort_week,
  day_n
