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
      @start_date IS NULL OR CAST(s.shown_at AS DATE) >= @start_date
    )
    AND (
      @end_date IS NULL OR CAST(s.shown_at AS DATE) <= @end_date
    )
    AND (
      @language IS NULL OR s.language = @language
    )
    AND (
      @editor IS NULL OR se.editor = @editor
    )
    AND (
      @segment IS NULL OR u.segment = @segment
    )
    AND (
      @model_version IS NULL OR s.model_version = @model_version
    )
), counts AS (
  SELECT
    check_after_s,
    COUNT(*) AS checked,
    CAST(SUM(CASE WHEN edit_ratio = 0 THEN 1 ELSE 0 END) AS INT64) AS unchanged,
    CAST(SUM(CASE WHEN edit_ratio < 0.33 AND NOT removed THEN 1 ELSE 0 END) AS INT64) AS mostly_unchanged,
    CAST(SUM(CASE WHEN removed THEN 1 ELSE 0 END) AS INT64) AS removed,
    AVG(edit_ratio) AS mean_edit_ratio
  FROM checks
  GROUP BY
    check_after_s
)
SELECT
  CAST(check_after_s AS INT64) AS check_after_s,
  checked,
  unchanged,
  CAST(unchanged AS FLOAT64) / NULLIF(checked, 0) AS unchanged_share,
  mostly_unchanged,
  CAST(mostly_unchanged AS FLOAT64) / NULLIF(checked, 0) AS mostly_unchanged_share,
  removed,
  CAST(removed AS FLOAT64) / NULLIF(checked, 0) AS removed_share,
  mean_edit_ratio
FROM counts
ORDER BY
  check_after_s NULLS LAST
