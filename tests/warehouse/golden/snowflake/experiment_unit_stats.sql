WITH units AS (
  SELECT
    a.experiment_id,
    a.user_id,
    a.variant,
    a.variant = e.control_variant AS is_control,
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
), events AS (
  /* every shown suggestion before the end: post (from the start and the first filtered */
  /* day on) or pre (before the start); aggregated per user before the join to the units, */
  /* so the 10⁷-row side meets a one-row table, not a hash join */
  SELECT
    s.user_id,
    CASE
      WHEN s.shown_at >= b.started_at
      AND (
        :start_date IS NULL OR CAST(s.shown_at AS DATE) >= :start_date
      )
      AND (
        :end_date IS NULL OR CAST(s.shown_at AS DATE) <= :end_date
      )
      THEN 1
      ELSE 0
    END AS is_post,
    CASE WHEN s.shown_at < b.started_at THEN 1 ELSE 0 END AS is_pre,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS is_accepted,
    s.latency_ms
  FROM suggestions AS s
  CROSS JOIN bounds AS b
  WHERE
    s.outcome <> 'not_shown' AND (
      b.ended_at IS NULL OR s.shown_at < b.ended_at
    )
), sug AS (
  SELECT
    user_id,
    SUM(is_post) AS shown,
    SUM(is_post * is_accepted) AS accepted,
    SUM(CASE WHEN is_post = 1 THEN latency_ms ELSE 0 END) AS latency,
    SUM(is_pre) AS pre_shown,
    SUM(is_pre * is_accepted) AS pre_accepted
  FROM events
  GROUP BY
    user_id
), tst AS (
  SELECT
    u.user_id,
    SUM(r.tests_passed) AS tests_passed,
    SUM(r.tests_passed + r.tests_failed) AS tests_run
  FROM units AS u
  INNER JOIN runs AS r
    ON r.user_id = u.user_id
  WHERE
    r.kind = 'test'
    AND r.ran_at >= u.started_at
    AND (
      u.ended_at IS NULL OR r.ran_at < u.ended_at
    )
    AND (
      :start_date IS NULL OR CAST(r.ran_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(r.ran_at AS DATE) <= :end_date
    )
  GROUP BY
    u.user_id
), per_user AS (
  SELECT
    u.experiment_id,
    u.variant,
    u.is_control,
    CAST(COALESCE(sg.shown, 0) AS DOUBLE) AS shown,
    CAST(COALESCE(sg.accepted, 0) AS DOUBLE) AS accepted,
    CAST(COALESCE(sg.latency, 0) AS DOUBLE) AS latency,
    CAST(COALESCE(sg.pre_shown, 0) AS DOUBLE) AS pre_shown,
    CAST(COALESCE(sg.pre_accepted, 0) AS DOUBLE) AS pre_accepted,
    CAST(COALESCE(t.tests_passed, 0) AS DOUBLE) AS tests_passed,
    CAST(COALESCE(t.tests_run, 0) AS DOUBLE) AS tests_run
  FROM units AS u
  LEFT JOIN sug AS sg
    ON sg.user_id = u.user_id
  LEFT JOIN tst AS t
    ON t.user_id = u.user_id
), ranked AS (
  SELECT
    accepted,
    pre_accepted,
    ROW_NUMBER() OVER (ORDER BY accepted) - 1 AS accepted_rank,
    ROW_NUMBER() OVER (ORDER BY pre_accepted) - 1 AS pre_accepted_rank,
    CAST(COUNT(*) OVER () - 1 AS DOUBLE) * COALESCE(CAST(:winsorize_quantile AS DOUBLE), CAST(1 AS DOUBLE)) AS position
  FROM per_user
), caps AS (
  /* the quantile interpolated between the two nearest ranks, as percentile_cont does */
  SELECT
    SUM(
      CASE
        WHEN accepted_rank = FLOOR(position)
        THEN accepted * (
          1.0 - (
            position - FLOOR(position)
          )
        )
        WHEN accepted_rank = FLOOR(position) + 1
        THEN accepted * (
          position - FLOOR(position)
        )
        ELSE 0.0
      END
    ) AS accepted_cap,
    SUM(
      CASE
        WHEN pre_accepted_rank = FLOOR(position)
        THEN pre_accepted * (
          1.0 - (
            position - FLOOR(position)
          )
        )
        WHEN pre_accepted_rank = FLOOR(position) + 1
        THEN pre_accepted * (
          position - FLOOR(position)
        )
        ELSE 0.0
      END
    ) AS pre_accepted_cap
  FROM ranked
), capped AS (
  SELECT
    p.experiment_id,
    p.variant,
    p.is_control,
    p.shown,
    p.accepted,
    p.latency,
    p.pre_shown,
    p.pre_accepted,
    p.tests_passed,
    p.tests_run,
    CASE WHEN p.accepted > c.accepted_cap THEN c.accepted_cap ELSE p.accepted END AS capped_accepted,
    CASE
      WHEN p.pre_accepted > c.pre_accepted_cap
      THEN c.pre_accepted_cap
      ELSE p.pre_accepted
    END AS capped_pre_accepted
  FROM per_user AS p
  CROSS JOIN caps AS c
)
SELECT
  experiment_id,
  variant,
  is_control,
  COUNT(*) AS units,
  CAST(SUM(CASE WHEN shown > 0 THEN 1 ELSE 0 END) AS BIGINT) AS active_units,
  SUM(shown) AS shown_sum,
  SUM(shown * shown) AS shown_sum_squares,
  SUM(accepted) AS accepted_sum,
  SUM(accepted * accepted) AS accepted_sum_squares,
  SUM(accepted * shown) AS accepted_shown_sum,
  SUM(pre_shown) AS pre_shown_sum,
  SUM(pre_shown * pre_shown) AS pre_shown_sum_squares,
  SUM(pre_accepted) AS pre_accepted_sum,
  SUM(pre_accepted * pre_accepted) AS pre_accepted_sum_squares,
  SUM(pre_accepted * pre_shown) AS pre_accepted_shown_sum,
  SUM(accepted * pre_accepted) AS accepted_pre_accepted_sum,
  SUM(accepted * pre_shown) AS accepted_pre_shown_sum,
  SUM(shown * pre_accepted) AS shown_pre_accepted_sum,
  SUM(shown * pre_shown) AS shown_pre_shown_sum,
  SUM(capped_accepted) AS capped_accepted_sum,
  SUM(capped_accepted * capped_accepted) AS capped_accepted_sum_squares,
  SUM(capped_pre_accepted) AS capped_pre_accepted_sum,
  SUM(capped_pre_accepted * capped_pre_accepted) AS capped_pre_accepted_sum_squares,
  SUM(capped_accepted * capped_pre_accepted) AS capped_cross_sum,
  SUM(latency) AS latency_sum,
  SUM(latency * latency) AS latency_sum_squares,
  SUM(latency * shown) AS latency_shown_sum,
  SUM(tests_passed) AS tests_passed_sum,
  SUM(tests_passed * tests_passed) AS tests_passed_sum_squares,
  SUM(tests_run) AS tests_run_sum,
  SUM(tests_run * tests_run) AS tests_run_sum_squares,
  SUM(tests_passed * tests_run) AS tests_passed_run_sum
FROM capped
GROUP BY
  experiment_id,
  variant,
  is_control
ORDER BY
  is_control DESC NULLS LAST,
  variant
