-- warning: BigQuery has no exact aggregate percentile: PERCENTILE_CONT(q) WITHIN GROUP is approximated by APPROX_QUANTILES(x, 1000)[OFFSET(round(1000 q))] (no interpolation; for accepted_chars_per_active_hour, accepted_per_active_hour)
WITH sess AS (
  SELECT
    se.session_id,
    se.user_id,
    se.active_minutes,
    se.typed_chars
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
      @language IS NULL OR se.language = @language
    )
    AND (
      @editor IS NULL OR se.editor = @editor
    )
    AND (
      @segment IS NULL OR u.segment = @segment
    )
), accepted_by_session AS (
  SELECT
    s.session_id,
    CAST(SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END) AS INT64) AS accepted,
    CAST(SUM(s.accepted_chars) AS INT64) AS accepted_chars
  FROM suggestions AS s
  INNER JOIN sess
    ON sess.session_id = s.session_id
  GROUP BY
    s.session_id
), per_session AS (
  SELECT
    sess.user_id,
    sess.active_minutes,
    sess.typed_chars,
    COALESCE(a.accepted, 0) AS accepted,
    COALESCE(a.accepted_chars, 0) AS accepted_chars
  FROM sess
  LEFT JOIN accepted_by_session AS a
    ON a.session_id = sess.session_id
), per_user AS (
  SELECT
    user_id,
    COUNT(*) AS sessions,
    SUM(active_minutes) / 60.0 AS active_hours,
    CAST(SUM(accepted) AS INT64) AS accepted,
    CAST(SUM(accepted_chars) AS INT64) AS accepted_chars,
    CAST(SUM(typed_chars) AS INT64) AS typed_chars,
    CAST(SUM(CASE WHEN NOT typed_chars IS NULL THEN accepted_chars END) AS INT64) AS ai_chars
  FROM per_session
  GROUP BY
    user_id
), rates AS (
  SELECT
    u.segment,
    p.sessions,
    p.active_hours,
    p.accepted,
    p.accepted_chars,
    p.typed_chars,
    p.ai_chars,
    CAST(p.accepted AS FLOAT64) / NULLIF(p.active_hours, 0) AS accepted_per_active_hour,
    CAST(p.accepted_chars AS FLOAT64) / NULLIF(p.active_hours, 0) AS accepted_chars_per_active_hour
  FROM per_user AS p
  INNER JOIN users AS u
    ON u.user_id = p.user_id
), by_segment AS (
  SELECT
    segment,
    COUNT(*) AS users,
    CAST(SUM(sessions) AS INT64) AS sessions,
    SUM(active_hours) AS active_hours,
    CAST(SUM(accepted) AS INT64) AS accepted,
    CAST(SUM(accepted_chars) AS INT64) AS accepted_chars,
    CAST(SUM(typed_chars) AS INT64) AS typed_chars,
    CAST(SUM(ai_chars) AS INT64) AS ai_chars,
    AVG(accepted_per_active_hour) AS mean_user_accepted_per_active_hour,
    APPROX_QUANTILES(accepted_per_active_hour, 1000)[OFFSET(500)] AS median_user_accepted_per_active_hour,
    APPROX_QUANTILES(accepted_chars_per_active_hour, 1000)[OFFSET(500)] AS median_user_accepted_chars_per_active_hour
  FROM rates
  GROUP BY
    segment
)
SELECT
  segment,
  users,
  sessions,
  CAST(sessions AS FLOAT64) / NULLIF(users, 0) AS sessions_per_user,
  active_hours / NULLIF(users, 0) AS active_hours_per_user,
  CAST(accepted AS FLOAT64) / NULLIF(active_hours, 0) AS accepted_per_active_hour,
  CAST(accepted_chars AS FLOAT64) / NULLIF(active_hours, 0) AS accepted_chars_per_active_hour,
  mean_user_accepted_per_active_hour,
  median_user_accepted_per_active_hour,
  median_user_accepted_chars_per_active_hour,
  CAST(ai_chars AS FLOAT64) / NULLIF(typed_chars + ai_chars, 0) AS ai_code_share
FROM by_segment
ORDER BY
  segment NULLS LAST
