-- name: quarantine_summary
-- category: data_quality
-- description: Quarantined input by file and reason: quarantine rows (one per line, field
--   and reason), distinct lines affected, file-level errors (no line), fields at fault, the
--   share of the file's records read that the reason hit (records read summed over every
--   ingest of the file path), the reason's share of the file's quarantine rows, and when it was
--   first and last seen.
-- param: start_date DATE = NULL -- first day included (UTC date of quarantined_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of quarantined_at); NULL: no upper bound
-- param: reason VARCHAR = NULL in quarantine.reason -- only this reason code; NULL: all
-- param: target_table VARCHAR = NULL in quarantine.target_table -- only rows meant for this table; NULL: all
-- column: file VARCHAR -- path of the input file
-- column: reason VARCHAR -- machine-readable reason code
-- column: quarantine_rows BIGINT -- quarantine rows
-- column: lines BIGINT -- distinct (ingest, line) pairs affected
-- column: file_level BIGINT -- quarantine rows without a line (the whole file)
-- column: fields BIGINT -- distinct fields at fault
-- column: records_read BIGINT -- records read from the file path, all ingests (NULL: not logged)
-- column: line_share DOUBLE -- lines ÷ records_read
-- column: share_of_file DOUBLE -- quarantine_rows ÷ quarantine rows of the file
-- column: first_quarantined_at TIMESTAMP -- earliest quarantined_at
-- column: last_quarantined_at TIMESTAMP -- latest quarantined_at

WITH q AS (
    SELECT
        ingest_id,
        file,
        line,
        field,
        reason,
        quarantined_at
    FROM quarantine
    WHERE ($start_date IS NULL OR CAST(quarantined_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(quarantined_at AS DATE) <= $end_date)
        AND ($reason IS NULL OR reason = $reason)
        AND ($target_table IS NULL OR target_table = $target_table)
),

lines AS (
    SELECT file, reason, COUNT(*) AS lines
    FROM (
        SELECT DISTINCT ingest_id, file, reason, line
        FROM q
        WHERE line IS NOT NULL
    ) AS d
    GROUP BY file, reason
),

read_by_file AS (
    SELECT file, CAST(SUM(rows_read) AS BIGINT) AS records_read
    FROM ingest_files
    GROUP BY file
),

by_reason AS (
    SELECT
        file,
        reason,
        COUNT(*) AS quarantine_rows,
        CAST(SUM(CASE WHEN line IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS file_level,
        COUNT(DISTINCT field) AS fields,
        MIN(quarantined_at) AS first_quarantined_at,
        MAX(quarantined_at) AS last_quarantined_at
    FROM q
    GROUP BY file, reason
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
    CAST(b.quarantine_rows AS DOUBLE)
    / SUM(b.quarantine_rows) OVER (PARTITION BY b.file) AS share_of_file,
    b.first_quarantined_at,
    b.last_quarantined_at
FROM by_reason AS b
LEFT JOIN lines AS l ON l.file = b.file AND l.reason = b.reason
LEFT JOIN read_by_file AS r ON r.file = b.file
ORDER BY b.file, b.quarantine_rows DESC, b.reason
