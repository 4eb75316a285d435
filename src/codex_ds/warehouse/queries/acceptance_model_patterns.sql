-- name: acceptance_model_patterns
-- category: segmentation
-- description: The acceptance model's data as covariate patterns (METHODOLOGY.md §6.1): shown
--   suggestions grouped by the user's segment, language, the session's task type (NULL when
--   unrecorded), trigger, model version, evening (hour of shown_at, UTC, >= 18 or < 8),
--   a 25 ms latency bucket and a quarter-unit bucket of ln(suggested_chars) (chars below 1
--   count as 1), with the count of shown and accepted (in full or in part) suggestions and
--   the sums of latency in seconds and of ln(suggested_chars) inside the pattern (their means
--   are the pattern's covariates). With by_user the patterns are also split by user (the
--   clusters of the robust standard errors); otherwise user_id is NULL.
-- param: start_date DATE = NULL -- first day included (UTC date of shown_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of shown_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version; NULL: all
-- param: by_user BOOLEAN = FALSE -- split the patterns by user (user_id filled in)
-- column: user_id VARCHAR -- the user (with by_user; else NULL)
-- column: segment VARCHAR -- experience segment of the user
-- column: language VARCHAR -- language of the suggestion
-- column: task_type VARCHAR -- task type of the session (NULL: not recorded)
-- column: trigger VARCHAR -- what asked for the suggestion
-- column: model_version VARCHAR -- model that produced it
-- column: evening BOOLEAN -- shown at an hour (UTC) >= 18 or < 8
-- column: latency_bucket BIGINT -- floor(latency_ms ÷ 25)
-- column: length_bucket BIGINT -- floor(4 · ln(max(suggested_chars, 1)))
-- column: shown BIGINT -- shown suggestions in the pattern
-- column: accepted BIGINT -- of which accepted in full or in part
-- column: latency_s_sum DOUBLE -- Σ latency_ms ÷ 1000
-- column: log_chars_sum DOUBLE -- Σ ln(max(suggested_chars, 1))

WITH shown AS (
    SELECT
        CASE WHEN $by_user THEN s.user_id END AS user_id,
        u.segment,
        s.language,
        se.task_type,
        s.trigger,
        s.model_version,
        EXTRACT(HOUR FROM s.shown_at) >= 18 OR EXTRACT(HOUR FROM s.shown_at) < 8 AS evening,
        s.latency_ms,
        LN(CASE WHEN s.suggested_chars < 1 THEN 1 ELSE s.suggested_chars END) AS log_chars,
        CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted
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

bucketed AS (
    SELECT
        user_id,
        segment,
        language,
        task_type,
        trigger,
        model_version,
        evening,
        CAST(FLOOR(latency_ms / 25.0) AS BIGINT) AS latency_bucket,
        CAST(FLOOR(4.0 * log_chars) AS BIGINT) AS length_bucket,
        latency_ms,
        log_chars,
        accepted
    FROM shown
)

SELECT
    user_id,
    segment,
    language,
    task_type,
    trigger,
    model_version,
    evening,
    latency_bucket,
    length_bucket,
    COUNT(*) AS shown,
    CAST(SUM(accepted) AS BIGINT) AS accepted,
    SUM(latency_ms) / 1000.0 AS latency_s_sum,
    SUM(log_chars) AS log_chars_sum
FROM bucketed
GROUP BY
    user_id, segment, language, task_type, trigger, model_version, evening, latency_bucket,
    length_bucket
ORDER BY
    user_id, segment, language, task_type, trigger, model_version, evening, latency_bucket,
    length_bucket
