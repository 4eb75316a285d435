WITH checks AS (
  SELECT
    p.check_after_s,
    p.edit_ratio,
    p.removed
  FROM persistence AS p
  INNER JOIN suggestions AS s
    ON s.suggestion_id = p.suggestion_id
  INNER JOIN sessions AS se
    ON se.session_id = s.session_id
  INNER JOIN users AS u
    ON u.user_id = s.user_id
  WHERE
    s.outcome IN ('accepted', 'partially_accepted')
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
), counts AS (
  SELECT
    check_after_s,
    COUNT(*) AS checked,
    CAST(SUM(CASE WHEN edit_ratio = 0 THEN 1 ELSE 0 END) AS BIGINT) AS unchanged,
    CAST(SUM(CASE WHEN edit_ratio < 0.33 AND NOT removed THEN 1 ELSE 0 END) AS BIGINT) AS mostly_unchanged,
    CAST(SUM(CASE WHEN removed THEN 1 ELSE 0 END) AS BIGINT) AS removed,
    AVG(edit_ratio) AS mean_edit_ratio
  FROM checks
  GROUP BY
    check_after_s
)
SELECT
  CAST(check_after_s AS INT) AS check_after_s,
  checked,
  unchanged,
  CAST(unchanged AS DOUBLE PRECISION) / NULLIF(checked, 0) AS unchanged_share,
  mostly_unchanged,
  CAST(mostly_unchanged AS DOUBLE PRECISION) / NULLIF(checked, 0) AS mostly_unchanged_share,
  removed,
  CAST(removed AS DOUBLE PRECISION) / NULLIF(checked, 0) AS removed_share,
  mean_edit_ratio
FROM counts
ORDER BY
  check_after_s
