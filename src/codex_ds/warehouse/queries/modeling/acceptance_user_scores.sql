-- name: acceptance_user_scores
-- category: segmentation
-- description: Per-user score sums of the fitted acceptance model, for standard errors
--   clustered by user (METHODOLOGY.md §6.1). Not a catalog query: it reads the table
--   acceptance_pattern_fit, which the caller registers from Python after the fit (one row per
--   covariate pattern of acceptance_model_patterns without by_user: its keys, the fitted
--   probability and the pattern's mean latency_s and log_suggested_chars). Each shown
--   suggestion is joined to its pattern (same filters and buckets as
--   acceptance_model_patterns; patterns left out of the fit drop out), its residual
--   r = accepted - probability is summed per user over every suggestion (factor intercept)
--   and per level of each factor, and r times the pattern's continuous covariates per user.
-- param: start_date DATE = NULL -- first day included (UTC date of shown_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of shown_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version; NULL: all
-- column: user_id VARCHAR -- the user (the cluster)
-- column: factor VARCHAR -- intercept (all of the user's suggestions), segment, language, task_type, trigger, model_version or evening
-- column: level VARCHAR -- the factor's level (evening: true/false); NULL for intercept
-- column: residual_sum DOUBLE -- Σ (accepted - probability)
-- column: residual_latency_s_sum DOUBLE -- Σ (accepted - probability) · pattern mean latency_s
-- column: residual_log_chars_sum DOUBLE -- Σ (accepted - probability) · pattern mean ln(chars)

WITH shown AS (
    SELECT
        s.user_id,
        u.segment,
        s.language,
        se.task_type,
        s.trigger,
        s.model_version,
        EXTRACT(HOUR FROM s.shown_at) >= 18 OR EXTRACT(HOUR FROM s.shown_at) < 8 AS evening,
        CAST(FLOOR(s.latency_ms / 25.0) AS BIGINT) AS latency_bucket,
        CAST(
            FLOOR(4.0 * LN(CASE WHEN s.suggested_chars < 1 THEN 1 ELSE s.suggested_chars END))
            AS BIGINT
        ) AS length_bucket,
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

scored AS (
    SELECT
        sh.user_id,
        sh.segment,
        sh.language,
        sh.task_type,
        sh.trigger,
        sh.model_version,
        sh.evening,
        sh.accepted - f.probability AS residual,
        f.latency_s,
        f.log_suggested_chars
    FROM shown AS sh
    INNER JOIN acceptance_pattern_fit AS f
        ON f.segment = sh.segment
        AND f.language = sh.language
        AND f.task_type = sh.task_type
        AND f.trigger = sh.trigger
        AND f.model_version = sh.model_version
        AND f.evening = sh.evening
        AND f.latency_bucket = sh.latency_bucket
        AND f.length_bucket = sh.length_bucket
)

SELECT
    user_id,
    CASE
        WHEN GROUPING(segment) = 0 THEN 'segment'
        WHEN GROUPING(language) = 0 THEN 'language'
        WHEN GROUPING(task_type) = 0 THEN 'task_type'
        WHEN GROUPING(trigger) = 0 THEN 'trigger'
        WHEN GROUPING(model_version) = 0 THEN 'model_version'
        WHEN GROUPING(evening) = 0 THEN 'evening'
        ELSE 'intercept'
    END AS factor,
    CASE
        WHEN GROUPING(segment) = 0 THEN segment
        WHEN GROUPING(language) = 0 THEN language
        WHEN GROUPING(task_type) = 0 THEN task_type
        WHEN GROUPING(trigger) = 0 THEN trigger
        WHEN GROUPING(model_version) = 0 THEN model_version
        WHEN GROUPING(evening) = 0 THEN CASE WHEN evening THEN 'true' ELSE 'false' END
    END AS level,
    SUM(residual) AS residual_sum,
    SUM(residual * latency_s) AS residual_latency_s_sum,
    SUM(residual * log_suggested_chars) AS residual_log_chars_sum
FROM scored
GROUP BY GROUPING SETS (
    (user_id),
    (user_id, segment),
    (user_id, language),
    (user_id, task_type),
    (user_id, trigger),
    (user_id, model_version),
    (user_id, evening)
)
