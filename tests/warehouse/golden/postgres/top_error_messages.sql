WITH failed AS (
  SELECT
    r.model_version,
    r.language,
    r.error_type,
    r.error_message
  FROM runs AS r
  INNER JOIN sessions AS se
    ON se.session_id = r.session_id
  INNER JOIN users AS u
    ON u.user_id = r.user_id
  WHERE
    (
      %(start_date)s IS NULL OR CAST(r.ran_at AS DATE) >= %(start_date)s
    )
    AND (
      %(end_date)s IS NULL OR CAST(r.ran_at AS DATE) <= %(end_date)s
    )
    AND (
      %(language)s IS NULL OR r.language = %(language)s
    )
    AND (
      %(editor)s IS NULL OR se.editor = %(editor)s
    )
    AND (
      %(segment)s IS NULL OR u.segment = %(segment)s
    )
    AND (
      %(model_version)s IS NULL OR r.model_version = %(model_version)s
    )
    AND (
      %(kind)s IS NULL OR r.kind = %(kind)s
    )
    AND r.error_type <> 'none'
    AND NOT r.error_message IS NULL
), by_type AS (
  SELECT
    model_version,
    language,
    error_message,
    error_type,
    COUNT(*) AS runs
  FROM failed
  GROUP BY
    model_version,
    language,
    error_message,
    error_type
), by_message AS (
  SELECT
    model_version,
    language,
    error_message,
    SUM(runs) AS runs,
    MIN(CASE WHEN type_rank = 1 THEN error_type END) AS error_type
  FROM (
    SELECT
      model_version,
      language,
      error_message,
      error_type,
      runs,
      ROW_NUMBER() OVER (
        PARTITION BY model_version, language, error_message
        ORDER BY runs DESC NULLS LAST, error_type
      ) AS type_rank
    FROM by_type
  ) AS t
  GROUP BY
    model_version,
    language,
    error_message
), ranked AS (
  SELECT
    model_version,
    language,
    error_message,
    error_type,
    runs,
    ROW_NUMBER() OVER (PARTITION BY model_version, language ORDER BY runs DESC NULLS LAST, error_message) AS message_rank,
    CAST(runs AS DOUBLE PRECISION) / SUM(runs) OVER (PARTITION BY model_version, language) AS share
  FROM by_message
)
SELECT
  model_version,
  language,
  CAST(message_rank AS INT) AS message_rank,
  error_message,
  error_type,
  CAST(runs AS BIGINT) AS runs,
  share
FROM ranked
WHERE
  message_rank <= %(n)s
ORDER BY
  model_version,
  language,
  message_rank
