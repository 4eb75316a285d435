-- name: error_types
-- category: errors
-- description: Distribution of error types of failed build and test runs by model version
--   and language: runs per error type (error_type <> 'none'), their share of the cell's
--   failed runs and of all its runs. model_version is NULL for runs with no accepted
--   suggestion before them.
-- param: kind VARCHAR = NULL in RUN_KINDS -- only build or only test runs; NULL: both
-- param: start_date DATE = NULL -- first day included (UTC date of ran_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of ran_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only runs in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only runs after this model's suggestions; NULL: all
-- column: model_version VARCHAR -- model whose suggestions preceded the runs (NULL: none)
-- column: language VARCHAR -- language built or tested
-- column: error_type VARCHAR -- class of the first error
-- column: runs BIGINT -- runs with this error type
-- column: share_of_errors DOUBLE -- runs ÷ runs with an error in the same model and language
-- column: share_of_runs DOUBLE -- runs ÷ all runs in the same model and language

WITH filtered AS (
    SELECT
        r.model_version,
        r.language,
        r.error_type
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
),

by_type AS (
    SELECT
        model_version,
        language,
        error_type,
        COUNT(*) AS runs,
        SUM(COUNT(*)) OVER (PARTITION BY model_version, language) AS cell_runs
    FROM filtered
    GROUP BY model_version, language, error_type
)

SELECT
    model_version,
    language,
    error_type,
    runs,
    CAST(runs AS DOUBLE) / SUM(runs) OVER (PARTITION BY model_version, language) AS share_of_errors,
    CAST(runs AS DOUBLE) / NULLIF(cell_runs, 0) AS share_of_runs
FROM by_type
WHERE error_type <> 'none'
ORDER BY model_version NULLS LAST, language, runs DESC, error_type
