WITH period AS (
  SELECT
    MIN(week_start) AS first_week
  FROM dev_outcomes
), outcomes AS (
  SELECT
    o.user_id,
    COUNT(*) AS weeks,
    CAST(SUM(o.prs_merged) AS DOUBLE PRECISION) AS prs_merged,
    AVG(o.lead_time_hours) AS lead_time_hours
  FROM dev_outcomes AS o
  WHERE
    (
      %(start_date)s IS NULL OR o.week_start >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR o.week_start <= %(end_date)s
    )
  GROUP BY
    o.user_id
), tenure AS (
  SELECT
    u.user_id,
    (
      CAST(p.first_week AS DATE) - CAST(u.signup_at AS DATE)
    ) AS days
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
  CAST(o.prs_merged AS DOUBLE PRECISION) / NULLIF(o.weeks, 0) AS prs_merged_per_week,
  o.lead_time_hours
FROM outcomes AS o
INNER JOIN users AS u
  ON u.user_id = o.user_id
INNER JOIN tenure AS te
  ON te.user_id = o.user_id
LEFT JOIN feature_adoption AS fa
  ON fa.user_id = o.user_id AND fa.feature = %(feature)s
WHERE
  (
    %(segment)s IS NULL OR u.segment = %(segment)s
  )
ORDER BY
  u.user_id
