WITH shown AS (
  SELECT
    CASE
      WHEN s.suggested_chars < 20
      THEN 0
      WHEN s.suggested_chars < 50
      THEN 20
      WHEN s.suggested_chars < 100
      THEN 50
      WHEN s.suggested_chars < 200
      THEN 100
      WHEN s.suggested_chars < 500
      THEN 200
      ELSE 500
    END AS min_chars,
    s.user_id,
    s.outcome,
    s.suggested_chars,
    s.accepted_chars,
    s.suggested_lines,
    s.accepted_lines
  FROM suggestions AS s
  INNER JOIN sessions AS se
    ON se.session_id = s.session_id
  INNER JOIN users AS u
    ON u.user_id = s.user_id
  WHERE
    s.outcome <> 'not_shown'
    AND (
      %(start_date)s IS NULL OR CAST(s.shown_at AS DATE) >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR CAST(s.shown_at AS DATE) <= %(end_date)s
    )
    AND (
      %(language)s IS NULL OR s.language = %(language)s
    )
    AND (
      %(editor)s IS NULL OR se.editor = %(editor)s
    )
    AND (
      %(segment)s IS NULL OR u.segment = %(segment)s
    )
    AND (
      %(model_version)s IS NULL OR s.model_version = %(model_version)s
    )
), by_bucket AS (
  SELECT
    min_chars,
    COUNT(DISTINCT user_id) AS users,
    COUNT(*) AS shown,
    CAST(SUM(CASE WHEN outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END) AS BIGINT) AS accepted,
    CAST(SUM(CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END) AS BIGINT) AS fully_accepted,
    CAST(SUM(suggested_chars) AS BIGINT) AS suggested_chars,
    CAST(SUM(accepted_chars) AS BIGINT) AS accepted_chars,
    CAST(SUM(suggested_lines) AS BIGINT) AS suggested_lines,
    CAST(SUM(accepted_lines) AS BIGINT) AS accepted_lines
  FROM shown
  GROUP BY
    min_chars
)
SELECT
  CASE min_chars
    WHEN 0
    THEN '0-19'
    WHEN 20
    THEN '20-49'
    WHEN 50
    THEN '50-99'
    WHEN 100
    THEN '100-199'
    WHEN 200
    THEN '200-499'
    ELSE '500+'
  END AS length_bucket,
  CAST(min_chars AS INT) AS min_chars,
  CAST(CASE min_chars
    WHEN 0
    THEN 19
    WHEN 20
    THEN 49
    WHEN 50
    THEN 99
    WHEN 100
    THEN 199
    WHEN 200
    THEN 499
  END AS INT) AS max_chars,
  users,
  shown,
  accepted,
  fully_accepted,
  CAST(accepted AS DOUBLE PRECISION) / NULLIF(shown, 0) AS acceptance_rate,
  CAST(fully_accepted AS DOUBLE PRECISION) / NULLIF(shown, 0) AS full_acceptance_rate,
  suggested_chars,
  accepted_chars,
  CAST(accepted_chars AS DOUBLE PRECISION) / NULLIF(suggested_chars, 0) AS char_acceptance_rate,
  suggested_lines,
  accepted_lines,
  CAST(accepted_lines AS DOUBLE PRECISION) / NULLIF(suggested_lines, 0) AS line_acceptance_rate,
  CAST(shown AS DOUBLE PRECISION) / SUM(shown) OVER () AS share_of_shown
FROM by_bucket
ORDER BY
  min_chars
