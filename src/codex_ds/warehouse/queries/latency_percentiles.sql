-- name: latency_percentiles
-- category: latency
-- description: Latency of shown suggestions (request to suggestion shown) by model version
--   and language: p50, p90 and p99 (continuous percentiles, interpolated between the two
--   nearest values as percentile_cont does) and the mean.
-- param: start_date DATE = NULL -- first day included (UTC date of shown_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of shown_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version; NULL: all
-- column: model_version VARCHAR -- model that produced the suggestions
-- column: language VARCHAR -- language of the file
-- column: shown BIGINT -- suggestions shown
-- column: mean_ms DOUBLE -- mean latency
-- column: p50_ms DOUBLE -- median latency
-- column: p90_ms DOUBLE -- 90th percentile of latency
-- column: p99_ms DOUBLE -- 99th percentile of latency

-- The three percentiles come from one PERCENTILE_CONT with a list of fractions (one sort
-- of each group instead of three; Spark: percentile(x, array(...))).

WITH shown AS (
    SELECT
        s.model_version,
        s.language,
        s.latency_ms
    FROM suggestions AS s
    INNER JOIN sessions AS se ON se.session_id = s.session_id
    INNER JOIN users AS u ON u.user_id = s.user_id
    WHERE s.outcome <> 'not_shown'
        AND ($start_date IS NULL OR CAST(s.shown_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(s.shown_at AS DATE) <= $end_date)
        AND ($language IS NULL OR s.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR s.model_version = $model_version)
),

cells AS (
    SELECT
        model_version,
        language,
        COUNT(*) AS shown,
        AVG(latency_ms) AS mean_ms,
        PERCENTILE_CONT([0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms_q
    FROM shown
    GROUP BY model_version, language
)

SELECT
    model_version,
    language,
    shown,
    mean_ms,
    CAST(latency_ms_q[1] AS DOUBLE) AS p50_ms,
    CAST(latency_ms_q[2] AS DOUBLE) AS p90_ms,
    CAST(latency_ms_q[3] AS DOUBLE) AS p99_ms
FROM cells
ORDER BY model_version, language
