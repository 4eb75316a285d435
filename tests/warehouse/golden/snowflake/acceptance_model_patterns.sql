WITH shown AS (
  SELECT
    CASE WHEN :by_user THEN s.user_id END AS user_id,
    u.segment,
    s.language,
    se.task_type,
    s.trigger,
    s.model_version,
    DATE_PART(HOUR, s.shown_at) >= 18 OR DATE_PART(HOUR, s.shown_at) < 8 AS evening,
    s.latency_ms,
    LN(CASE WHEN s.suggested_chars < 1 THEN 1 ELSE s.suggested_chars END) AS log_chars,
    CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted
  FROM suggestions AS s
  INNER JOIN sessions AS se
    ON se.session_id = s.session_id
  INNER JOIN users AS u
    ON u.user_id = s.user_id
  WHERE
    s.outcome <> 'not_shown'
    AND (
      :start_date IS NULL OR CAST(s.shown_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(s.shown_at AS DATE) <= :end_date
    )
    AND (
      :language IS NULL OR s.language = :language
    )
    AND (
      :editor IS NULL OR se.editor = :editor
    )
    AND (
      :segment IS NULL OR u.segment = :segment
    )
    AND (
      :model_version IS NULL OR s.model_version = :model_version
    )
), bucketed AS (
  SELECT
    user_id,
    segment,
    language,
    task_type,
    trigger,
    model_version,
    evening,
    CAST(FLOOR(latency_ms / 25.0) AS BIGINT) AS latency_bucket,
    CAST(FLOOR(4.0 * log_chars) AS BIGINT) AS length_bucket,
    latency_ms,
    log_chars,
    accepted
  FROM shown
)
SELECT
  user_id,
  segment,
  language,
  task_type,
  trigger,
  model_version,
  evening,
  latency_bucket,
  length_bucket,
  COUNT(*) AS shown,
  CAST(SUM(accepted) AS BIGINT) AS accepted,
  SUM(latency_ms) / 1000.0 AS latency_s_sum,
  SUM(log_chars) AS log_chars_sum
FROM bucketed
GROUP BY
  user_id,
  segment,
  language,
  task_type,
  trigger,
  model_version,
  evening,
  latency_bucket,
  length_bucket
ORDER BY
  user_id,
  segment,
  language,
  task_type,
  trigger,
  model_version,
  evening,
  latency_bucket,
  length_bucket
