WITH activity AS (
  SELECT DISTINCT
    se.user_id,
    CAST(se.started_at AS DATE) AS day
  FROM sessions AS se
  WHERE
    (
      %(language)s IS NULL OR se.language = %(language)s
    )
    AND (
      %(editor)s IS NULL OR se.editor = %(editor)s
    )
    AND (
      %(segment)s IS NULL
      OR se.user_id IN (
        SELECT
          u.user_id
        FROM users AS u
        WHERE
          u.segment = %(segment)s
      )
    )
), bounds AS (
  SELECT
    MIN(day) AS first_day,
    MAX(day) AS last_day
  FROM activity
), calendar AS (
  SELECT
    CAST(g.day AS DATE) AS day
  FROM (
    SELECT
      UNNEST(GENERATE_SERIES(b.first_day, b.last_day, INTERVAL '1 DAY')) AS day
    FROM bounds AS b
  ) AS g
), report_days AS (
  SELECT
    c.day
  FROM calendar AS c
  WHERE
    (
      %(start_date)s IS NULL OR c.day >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR c.day <= %(end_date)s
    )
), per_user AS (
  /* each user once per reported day, with the last active day of the 28-day window */
  SELECT
    r.day,
    a.user_id,
    MAX(a.day) AS last_active
  FROM report_days AS r
  INNER JOIN activity AS a
    ON a.day <= r.day AND a.day > (
      r.day + INTERVAL '-28'
    )
  GROUP BY
    r.day,
    a.user_id
), counts AS (
  SELECT
    r.day,
    CAST(COALESCE(SUM(CASE WHEN p.last_active = r.day THEN 1 ELSE 0 END), 0) AS BIGINT) AS dau,
    CAST(COALESCE(SUM(CASE WHEN p.last_active > (
      r.day + INTERVAL '-7'
    ) THEN 1 ELSE 0 END), 0) AS BIGINT) AS wau,
    COUNT(p.user_id) AS mau
  FROM report_days AS r
  LEFT JOIN per_user AS p
    ON p.day = r.day
  GROUP BY
    r.day
)
SELECT
  c.day,
  c.dau,
  c.wau,
  c.mau,
  CAST(c.dau AS DOUBLE PRECISION) / NULLIF(c.mau, 0) AS stickiness,
  CAST(c.dau AS DOUBLE PRECISION) / NULLIF(c.wau, 0) AS dau_wau,
  (
    b.first_day + INTERVAL '27'
  ) <= c.day AS window_complete
FROM counts AS c
CROSS JOIN bounds AS b
ORDER BY
  c.day
