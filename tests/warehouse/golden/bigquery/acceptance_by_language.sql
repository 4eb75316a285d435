WITH shown AS (
  SELECT
    s.language AS language,
    s.user_id,
    s.outcome,
    s.suggested_chars,
    s.accepted_chars,
    s.suggested_lines,
    s.accepted_lines
  FROM suggestions AS s
  WHERE
    s.outcome <> 'not_shown'
    AND (
      @start_date IS NULL OR CAST(s.shown_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(s.shown_at AS DATE) <= @end_date
    )
    AND (
      @language IS NULL OR s.language = @language
    )
    AND /* semi-joins, not joins: without a filter no session or user row is touched */ (
      @editor IS NULL
      OR s.session_id IN (
        SELECT
          se.session_id
        FROM sessions AS se
        WHERE
          se.editor = @editor
      )
    )
    AND (
      @segment IS NULL
      OR s.user_id IN (
        SELECT
          u.user_id
        FROM users AS u
        WHERE
          u.segment = @segment
      )
    )
    AND (
      @model_version IS NULL OR s.model_version = @model_version
    )
), by_language AS (
  SELECT
    language,
    COUNT(DISTINCT user_id) AS users,
    COUNT(*) AS shown,
    CAST(SUM(CASE WHEN outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END) AS INT64) AS accepted,
    CAST(SUM(CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END) AS INT64) AS fully_accepted,
    CAST(SUM(suggested_chars) AS INT64) AS suggested_chars,
    CAST(SUM(accepted_chars) AS INT64) AS accepted_chars,
    CAST(SUM(suggested_lines) AS INT64) AS suggested_lines,
    CAST(SUM(accepted_lines) AS INT64) AS accepted_lines
  FROM shown
  GROUP BY
    language
)
SELECT
  language,
  users,
  shown,
  accepted,
  fully_accepted,
  CAST(accepted AS FLOAT64) / NULLIF(shown, 0) AS acceptance_rate,
  CAST(fully_accepted AS FLOAT64) / NULLIF(shown, 0) AS full_acceptance_rate,
  suggested_chars,
  accepted_chars,
  CAST(accepted_chars AS FLOAT64) / NULLIF(suggested_chars, 0) AS char_acceptance_rate,
  suggested_lines,
  accepted_lines,
  CAST(accepted_lines AS FLOAT64) / NULLIF(suggested_lines, 0) AS line_acceptance_rate,
  CAST(shown AS FLOAT64) / SUM(shown) OVER () AS share_of_shown
FROM by_language
ORDER BY
  shown DESC,
  language NULLS LAST
