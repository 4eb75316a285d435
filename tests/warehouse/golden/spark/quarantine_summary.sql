WITH q AS (
  SELECT
    ingest_id,
    file,
    line,
    field,
    reason,
    quarantined_at
  FROM quarantine
  WHERE
    (
      :start_date IS NULL OR CAST(quarantined_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(quarantined_at AS DATE) <= :end_date
    )
    AND (
      :reason IS NULL OR reason = :reason
    )
    AND (
      :target_table IS NULL OR target_table = :target_table
    )
), lines AS (
  SELECT
    file,
    reason,
    COUNT(*) AS lines
  FROM (
    SELECT DISTINCT
      ingest_id,
      file,
      reason,
      line
    FROM q
    WHERE
      NOT line IS NULL
  ) AS d
  GROUP BY
    file,
    reason
), read_by_file AS (
  SELECT
    file,
    CAST(SUM(rows_read) AS BIGINT) AS records_read
  FROM ingest_files
  GROUP BY
    file
), by_reason AS (
  SELECT
    file,
    reason,
    COUNT(*) AS quarantine_rows,
    CAST(SUM(CASE WHEN line IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS file_level,
    COUNT(DISTINCT field) AS fields,
    MIN(quarantined_at) AS first_quarantined_at,
    MAX(quarantined_at) AS last_quarantined_at
  FROM q
  GROUP BY
    file,
    reason
)
SELECT
  b.file,
  b.reason,
  b.quarantine_rows,
  COALESCE(l.lines, 0) AS lines,
  b.file_level,
  b.fields,
  r.records_read,
  CAST(COALESCE(l.lines, 0) AS DOUBLE) / NULLIF(r.records_read, 0) AS line_share,
  CAST(b.quarantine_rows AS DOUBLE) / SUM(b.quarantine_rows) OVER (PARTITION BY b.file) AS share_of_file,
  b.first_quarantined_at,
  b.last_quarantined_at
FROM by_reason AS b
LEFT JOIN lines AS l
  ON l.file = b.file AND l.reason = b.reason
LEFT JOIN read_by_file AS r
  ON r.file = b.file
ORDER BY
  b.file NULLS LAST,
  b.quarantine_rows DESC,
  b.reason NULLS LAST
