-- name: top_error_messages
-- category: errors
-- description: The n most frequent error messages of failed runs (error_type <> 'none', a
--   message recorded) for each model version and language, ranked by the number of runs
--   (ties by message text), with the message's share of the cell's failed runs that have a
--   message. Messages are compared verbatim.
-- param: n INTEGER = 5 -- messages per model version and language
-- param: kind VARCHAR = NULL in RUN_KINDS -- only build or only test runs; NULL: both
-- param: start_date DATE = NULL -- first day included (UTC date of ran_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of ran_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only runs in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only runs after this model's suggestions; NULL: all
-- column: model_version VARCHAR -- model whose suggestions preceded the runs (NULL: none)
-- column: language VARCHAR -- language built or tested
-- column: message_rank INTEGER -- 1 = most frequent
-- column: error_message VARCHAR -- the message
-- column: error_type VARCHAR -- the most frequent error type among the message's runs
-- column: runs BIGINT -- runs that failed with the message
-- column: share DOUBLE -- runs ÷ failed runs with a message in the same model and language

WITH failed AS (
    SELECT
        r.model_version,
        r.language,
        r.error_type,
        r.error_message
    FROM runs AS r
    INNER JOIN sessions AS se ON se.session_id = r.session_id
    INNER JOIN users AS u ON u.user_id = r.user_id
    WHERE ($start_date IS NULL OR CAST(r.ran_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(r.ran_at AS DATE) <= $end_date)
        AND ($language IS NULL OR r.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR r.model_version = $model_version)
        AND ($kind IS NULL OR r.kind = $kind)
        AND r.error_type <> 'none'
        AND r.error_message IS NOT NULL
),

by_type AS (
    SELECT model_version, language, error_message, error_type, COUNT(*) AS runs
    FROM failed
    GROUP BY model_version, language, error_message, error_type
),

by_message AS (
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
                ORDER BY runs DESC, error_type
            ) AS type_rank
        FROM by_type
    ) AS t
    GROUP BY model_version, language, error_message
),

ranked AS (
    SELECT
        model_version,
        language,
        error_message,
        error_type,
        runs,
        ROW_NUMBER() OVER (
            PARTITION BY model_version, language ORDER BY runs DESC, error_message
        ) AS message_rank,
        CAST(runs AS DOUBLE) / SUM(runs) OVER (PARTITION BY model_version, language) AS share
    FROM by_message
)

SELECT
    model_version,
    language,
    CAST(message_rank AS INTEGER) AS message_rank,
    error_message,
    error_type,
    CAST(runs AS BIGINT) AS runs,
    share
FROM ranked
WHERE message_rank <= $n
ORDER BY model_version NULLS LAST, language, message_rank
