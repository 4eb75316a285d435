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
      :start_date IS NULL OR CAST(r.ran_at AS DATE) >= :start_date
    )
    AND (
      :end_date IS NULL OR CAST(r.ran_at AS DATE) <= :end_date
    )
    AND (
      :language IS NULL OR r.language = :language
    )
    AND (
      :editor IS NULL OR se.editor = :editor
    )
    AND (
      :segment IS NULL OR u.segment = :segment
    )
    AND (
      :model_version IS NULL OR r.model_version = :model_version
    )
    AND (
      :kind IS NULL OR r.kind = :kind
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
    CAST(runs AS DOUBLE) / SUM(runs) OVER (PARTITION BY model_version, language) AS share
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
  message_rank <= :n
ORDER BY
  model_version,
  language,
  message_rank
