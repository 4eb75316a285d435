WITH units AS (
  SELECT
    a.experiment_id,
    a.user_id,
    a.variant,
    a.variant = e.control_variant AS is_control,
    CAST(a.assigned_at AS DATE) AS assigned_day,
    e.started_at,
    e.ended_at
  FROM assignments AS a
  INNER JOIN experiments AS e
    ON e.experiment_id = a.experiment_id
  WHERE
    a.experiment_id = :experiment_id
    AND (
      :end_date IS NULL OR CAST(a.assigned_at AS DATE) <= :end_date
    )
    AND (
      :language IS NULL
      OR a.user_id IN (
        SELECT
          us.user_id
        FROM users AS us
        WHERE
          us.primary_language = :language
      )
    )
    AND (
      :editor IS NULL
      OR a.user_id IN (
        SELECT
          us.user_id
        FROM users AS us
        WHERE
          us.editor = :editor
      )
    )
    AND (
      :segment IS NULL
      OR a.user_id IN (
        SELECT
          us.user_id
        FROM users AS us
        WHERE
          us.segment = :segment
      )
    )
), bounds AS (
  SELECT
    started_at,
    ended_at
  FROM experiments
  WHERE
    experiment_id = :experiment_id
), user_days AS (
  /* every user's post-start days, aggregated before the join to the units (the 10⁷-row */
  /* side meets a one-row table, not a hash join) */
  SELECT
    s.user_id,
    CAST(s.shown_at AS DATE) AS day,
    COUNT(*) AS shown,
    SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END) AS accepted,
    SUM(s.latency_ms) AS latency
  FROM suggestions AS s
  CROSS JOIN bounds AS b
  WHERE
    s.outcome <> 'not_shown'
    AND s.shown_at >= b.started_at
    AND (
      b.ended_at IS NULL OR s.shown_at < b.ended_at
    )
    AND (
      :start_date IS NULL OR CAST(s.shown_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(s.shown_at AS DATE) <= :end_date
    )
  GROUP BY
    s.user_id,
    CAST(s.shown_at AS DATE)
), daily AS (
  SELECT
    d.user_id,
    d.day,
    d.shown,
    d.accepted,
    d.latency
  FROM user_days AS d
  WHERE
    d.user_id IN (
      SELECT
        u.user_id
      FROM units AS u
    )
), looks AS (
  SELECT DISTINCT
    day
  FROM daily
), grid AS (
  SELECT
    u.user_id,
    l.day
  FROM units AS u
  CROSS JOIN looks AS l
  WHERE
    u.assigned_day <= l.day
), cumulative AS (
  /* each user at each look: the sums of the user's days up to the look */
  SELECT
    g.user_id,
    g.day,
    CAST(COALESCE(SUM(d.shown), 0) AS DOUBLE) AS shown,
    CAST(COALESCE(SUM(d.accepted), 0) AS DOUBLE) AS accepted,
    CAST(COALESCE(SUM(d.latency), 0) AS DOUBLE) AS latency
  FROM grid AS g
  LEFT JOIN daily AS d
    ON d.user_id = g.user_id AND d.day <= g.day
  GROUP BY
    g.user_id,
    g.day
)
SELECT
  u.experiment_id,
  c.day,
  u.variant,
  u.is_control,
  COUNT(*) AS units,
  SUM(c.shown) AS shown_sum,
  SUM(c.shown * c.shown) AS shown_sum_squares,
  SUM(c.accepted) AS accepted_sum,
  SUM(c.accepted * c.accepted) AS accepted_sum_squares,
  SUM(c.accepted * c.shown) AS accepted_shown_sum,
  SUM(c.latency) AS latency_sum,
  SUM(c.latency * c.latency) AS latency_sum_squares,
  SUM(c.latency * c.shown) AS latency_shown_sum
FROM cumulative AS c
INNER JOIN units AS u
  ON u.user_id = c.user_id
GROUP BY
  u.experiment_id,
  c.day,
  u.variant,
  u.is_control
ORDER BY
  c.day NULLS LAST,
  u.is_control DESC,
  u.variant NULLS LAST
