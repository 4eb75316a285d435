WITH activity AS (
  SELECT DISTINCT
    se.user_id,
    CAST(DATE_TRUNC('WEEK', CAST(se.started_at AS DATE)) AS DATE) AS week
  FROM sessions AS se
  INNER JOIN users AS u
    ON u.user_id = se.user_id
  WHERE
    (
      :language IS NULL OR se.language = :language
    )
    AND (
      :editor IS NULL OR se.editor = :editor
    )
    AND (
      :segment IS NULL OR u.segment = :segment
    )
), first_week AS (
  SELECT
    user_id,
    MIN(week) AS first_week
  FROM activity
  GROUP BY
    user_id
), bounds AS (
  SELECT
    MIN(week) AS first_week,
    MAX(week) AS last_week
  FROM activity
), weeks AS (
  SELECT
    CAST(g.week AS DATE) AS week
  FROM (
    SELECT
      IFF(_u.pos = _u_2.pos_2, _u_2.week, NULL) AS week
    FROM bounds AS b
    CROSS JOIN TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(
      0,
      (
        GREATEST(
          ARRAY_SIZE(ARRAY_GENERATE_RANGE(b.first_week, b.last_week + 1, INTERVAL '7 DAY'))
        ) - 1
      ) + 1
    ))) AS _u(seq, key, path, index, pos, this)
    CROSS JOIN TABLE(FLATTEN(INPUT => ARRAY_GENERATE_RANGE(b.first_week, b.last_week + 1, INTERVAL '7 DAY'))) AS _u_2(seq, key, path, pos_2, week, this)
    WHERE
      _u.pos = _u_2.pos_2
      OR (
        _u.pos > (
          ARRAY_SIZE(ARRAY_GENERATE_RANGE(b.first_week, b.last_week + 1, INTERVAL '7 DAY')) - 1
        )
        AND _u_2.pos_2 = (
          ARRAY_SIZE(ARRAY_GENERATE_RANGE(b.first_week, b.last_week + 1, INTERVAL '7 DAY')) - 1
        )
      )
  ) AS g
), flags AS (
  SELECT
    w.week,
    f.first_week,
    CASE WHEN NOT cur.user_id IS NULL THEN 1 ELSE 0 END AS active,
    CASE WHEN NOT prev.user_id IS NULL THEN 1 ELSE 0 END AS active_before
  FROM first_week AS f
  INNER JOIN weeks AS w
    ON w.week >= f.first_week
  LEFT JOIN activity AS cur
    ON cur.user_id = f.user_id AND cur.week = w.week
  LEFT JOIN activity AS prev
    ON prev.user_id = f.user_id AND prev.week = DATEADD(DAY, -7, w.week)
), counts AS (
  SELECT
    week,
    CAST(SUM(active) AS BIGINT) AS active_users,
    CAST(SUM(CASE WHEN active = 1 AND first_week = week THEN 1 ELSE 0 END) AS BIGINT) AS new_users,
    CAST(SUM(CASE WHEN active = 1 AND active_before = 1 THEN 1 ELSE 0 END) AS BIGINT) AS returning_users,
    CAST(SUM(
      CASE WHEN active = 1 AND active_before = 0 AND first_week < week THEN 1 ELSE 0 END
    ) AS BIGINT) AS resurrected_users,
    CAST(SUM(CASE WHEN active = 0 AND active_before = 1 THEN 1 ELSE 0 END) AS BIGINT) AS churned_users,
    CAST(SUM(CASE WHEN active = 0 AND first_week < week THEN 1 ELSE 0 END) AS BIGINT) AS dormant_users
  FROM flags
  GROUP BY
    week
)
SELECT
  week,
  active_users,
  new_users,
  returning_users,
  resurrected_users,
  churned_users,
  dormant_users
FROM counts
WHERE
  (
    :start_date IS NULL OR week >= :start_date
  )
  AND (
    :end_date IS NULL OR week <= :end_date
  )
ORDER BY
  week
