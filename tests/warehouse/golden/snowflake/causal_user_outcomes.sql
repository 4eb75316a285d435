WITH period AS (
  SELECT
    MIN(week_start) AS first_week
  FROM dev_outcomes
), outcomes AS (
  SELECT
    o.user_id,
    COUNT(*) AS weeks,
    CAST(SUM(o.prs_merged) AS DOUBLE) AS prs_merged,
    AVG(o.lead_time_hours) AS lead_time_hours
  FROM dev_outcomes AS o
  WHERE
    (
      :start_date IS NULL OR o.week_start >= :start_date
    )
    AND (
      :end_date IS NULL OR o.week_start <= :end_date
    )
  GROUP BY
    o.user_id
), tenure AS (
  SELECT
    u.user_id,
    DATEDIFF(DAY, CAST(u.signup_at AS DATE), p.first_week) AS days
  FROM users AS u
  CROSS JOIN period AS p
)
SELECT
  u.user_id,
  u.segment,
  u.primary_language,
  u.editor,
  CAST(CASE WHEN te.days > 0 THEN te.days ELSE 0 END AS INT) AS tenure_days,
  COALESCE(fa.adopted, FALSE) AS adopted,
  o.weeks,
  o.prs_merged / NULLIF(o.weeks, 0) AS prs_merged_per_week,
  o.lead_time_hours
FROM outcomes AS o
INNER JOIN users AS u
  ON u.user_id = o.user_id
INNER JOIN tenure AS te
  ON te.user_id = o.user_id
LEFT JOIN feature_adoption AS fa
  ON fa.user_id = o.user_id AND fa.feature = :feature
WHERE
  (
    :segment IS NULL OR u.segment = :segment
  )
ORDER BY
  u.user_id
