/* Suggestions and persistence checks are summed per session first, then the few hundred */
/* thousand session rows (not the ten million suggestions) are joined to the sessions kept. */
WITH sess AS (
  SELECT
    se.session_id,
    se.user_id,
    se.active_minutes
  FROM sessions AS se
  INNER JOIN users AS u
    ON u.user_id = se.user_id
  WHERE
    (
      @start_date IS NULL OR CAST(se.started_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(se.started_at AS DATE) <= @end_date
    )
    AND (
      @segment IS NULL OR u.segment = @segment
    )
), by_session AS (
  SELECT
    s.session_id,
    COUNT(*) AS requested,
    SUM(CASE WHEN s.outcome <> 'not_shown' THEN 1 ELSE 0 END) AS shown,
    SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END) AS accepted,
    SUM(s.accepted_chars) AS accepted_chars,
    SUM(CASE WHEN s.outcome <> 'not_shown' THEN s.suggested_chars ELSE 0 END) AS shown_chars,
    SUM(
      CASE WHEN s.outcome <> 'not_shown' AND s.trigger <> 'automatic' THEN 1 ELSE 0 END
    ) AS invoked
  FROM suggestions AS s
  GROUP BY
    s.session_id
), sug AS (
  SELECT
    sess.user_id,
    SUM(b.requested) AS requested,
    SUM(b.shown) AS shown,
    SUM(b.accepted) AS accepted,
    SUM(b.accepted_chars) AS accepted_chars,
    SUM(b.shown_chars) AS shown_chars,
    SUM(b.invoked) AS invoked
  FROM by_session AS b
  INNER JOIN sess
    ON sess.session_id = b.session_id
  GROUP BY
    sess.user_id
), persist_by_session AS (
  SELECT
    s.session_id,
    COUNT(*) AS checked_30s,
    SUM(CASE WHEN p.edit_ratio = 0 THEN 1 ELSE 0 END) AS unchanged_30s
  FROM persistence AS p
  INNER JOIN suggestions AS s
    ON s.suggestion_id = p.suggestion_id
  WHERE
    p.check_after_s = 30 AND s.outcome IN ('accepted', 'partially_accepted')
  GROUP BY
    s.session_id
), persist AS (
  SELECT
    sess.user_id,
    SUM(b.checked_30s) AS checked_30s,
    SUM(b.unchanged_30s) AS unchanged_30s
  FROM persist_by_session AS b
  INNER JOIN sess
    ON sess.session_id = b.session_id
  GROUP BY
    sess.user_id
), survey AS (
  SELECT
    user_id,
    COUNT(*) AS responses,
    AVG(CASE WHEN item = 'perceived_productivity' THEN CAST(score AS FLOAT64) END) AS perceived_productivity,
    AVG(CAST(score AS FLOAT64)) AS survey_mean_score
  FROM survey_responses
  GROUP BY
    user_id
), per_user AS (
  SELECT
    user_id,
    COUNT(*) AS sessions,
    SUM(active_minutes) / 60.0 AS active_hours
  FROM sess
  GROUP BY
    user_id
)
SELECT
  p.user_id,
  u.segment,
  p.sessions,
  p.active_hours,
  CAST(COALESCE(g.requested, 0) AS INT64) AS requested,
  CAST(COALESCE(g.shown, 0) AS INT64) AS shown,
  CAST(COALESCE(g.accepted, 0) AS INT64) AS accepted,
  CAST(COALESCE(g.accepted_chars, 0) AS INT64) AS accepted_chars,
  CAST(g.accepted AS FLOAT64) / NULLIF(g.shown, 0) AS acceptance_rate,
  CAST(g.shown AS FLOAT64) / NULLIF(g.requested, 0) AS shown_rate,
  CAST(COALESCE(g.accepted, 0) AS FLOAT64) / NULLIF(p.active_hours, 0) AS accepted_per_active_hour,
  CAST(COALESCE(g.accepted_chars, 0) AS FLOAT64) / NULLIF(p.active_hours, 0) AS accepted_chars_per_active_hour,
  CAST(COALESCE(k.checked_30s, 0) AS INT64) AS checked_30s,
  CAST(COALESCE(k.unchanged_30s, 0) AS INT64) AS unchanged_30s,
  CAST(k.unchanged_30s AS FLOAT64) / NULLIF(k.checked_30s, 0) AS unchanged_30s_rate,
  CAST(g.shown_chars AS FLOAT64) / NULLIF(g.shown, 0) AS mean_shown_chars,
  CAST(g.invoked AS FLOAT64) / NULLIF(g.shown, 0) AS invoked_share,
  CAST(COALESCE(g.shown, 0) AS FLOAT64) / NULLIF(p.active_hours, 0) AS shown_per_active_hour,
  CAST(COALESCE(v.responses, 0) AS INT64) AS survey_responses,
  v.perceived_productivity,
  v.survey_mean_score
FROM per_user AS p
INNER JOIN users AS u
  ON u.user_id = p.user_id
LEFT JOIN sug AS g
  ON g.user_id = p.user_id
LEFT JOIN persist AS k
  ON k.user_id = p.user_id
LEFT JOIN survey AS v
  ON v.user_id = p.user_id
ORDER BY
  p.user_id NULLS LAST
