WITH activity AS (
  SELECT DISTINCT
    se.user_id,
    CAST(se.started_at AS DATE) AS day
  FROM sessions AS se
  INNER JOIN users AS u
    ON u.user_id = se.user_id
  WHERE
    (
      @language IS NULL OR se.language = @language
    )
    AND (
      @editor IS NULL OR se.editor = @editor
    )
    AND (
      @segment IS NULL OR u.segment = @segment
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
      IF(pos = pos_2, day, NULL) AS day
    FROM bounds AS b
    CROSS JOIN UNNEST(GENERATE_ARRAY(
      0,
      GREATEST(ARRAY_LENGTH(GENERATE_ARRAY(b.first_day, b.last_day, INTERVAL '1' DAY))) - 1
    )) AS pos
    CROSS JOIN UNNEST(GENERATE_ARRAY(b.first_day, b.last_day, INTERVAL '1' DAY)) AS day WITH OFFSET AS pos_2
    WHERE
      pos = pos_2
      OR (
        pos > (
          ARRAY_LENGTH(GENERATE_ARRAY(b.first_day, b.last_day, INTERVAL '1' DAY)) - 1
        )
        AND pos_2 = (
          ARRAY_LENGTH(GENERATE_ARRAY(b.first_day, b.last_day, INTERVAL '1' DAY)) - 1
        )
      )
  ) AS g
), report_days AS (
  SELECT
    c.day
  FROM calendar AS c
  WHERE
    (
      @start_date IS NULL OR c.day >= @start_date
    )
    AND (
      @end_date IS NULL OR c.day <= @end_date
    )
), counts AS (
  SELECT
    r.day,
    COUNT(DISTINCT CASE WHEN a.day = r.day THEN a.user_id END) AS dau,
    COUNT(DISTINCT CASE WHEN a.day > DATE_ADD(r.day, INTERVAL -7 DAY) THEN a.user_id END) AS wau,
    COUNT(DISTINCT a.user_id) AS mau
  FROM report_days AS r
  LEFT JOIN activity AS a
    ON a.day <= r.day AND a.day > DATE_ADD(r.day, INTERVAL -28 DAY)
  GROUP BY
    r.day
)
SELECT
  c.day,
  c.dau,
  c.wau,
  c.mau,
  CAST(c.dau AS FLOAT64) / NULLIF(c.mau, 0) AS stickiness,
  CAST(c.dau AS FLOAT64) / NULLIF(c.wau, 0) AS dau_wau,
  DATE_ADD(b.first_day, INTERVAL 27 DAY) <= c.day AS window_complete
FROM counts AS c
CROSS JOIN bounds AS b
ORDER BY
  c.day NULLS LAST
