-- name: rollout_step_stats
-- category: experiments
-- description: Per-arm sufficient statistics of one step of a staged rollout replayed over a
--   user-randomised experiment (METHODOLOGY.md §5.12). A stable hash bucket of
--   (experiment_id, user_id), the first four hex digits of MD5 ÷ 65,536, exposes the
--   treatment users whose bucket is below exposed_share; every control user stays in. Only
--   users assigned before the window's end count (intention to treat, zeros when inactive).
--   Per user, inside the window: shown and accepted (incl. partial) suggestions, their
--   latency, runs and failed runs (error_type other than 'none'); per arm: n, the sums, the
--   sums of squares and the cross products the delta method needs.
-- param: experiment_id VARCHAR = 'exp_model_v2' -- the experiment the rollout replays
-- param: exposed_share DOUBLE = 1.0 -- share of each treatment arm exposed (bucket below it)
-- param: window_start TIMESTAMP = NULL -- first instant of the step; NULL: the experiment start
-- param: window_end TIMESTAMP = NULL -- end of the step (excluded); NULL: the experiment end
-- column: experiment_id VARCHAR -- the experiment
-- column: variant VARCHAR -- assigned variant
-- column: is_control BOOLEAN -- the variant is the experiment's control
-- column: units BIGINT -- users of the arm in the step
-- column: active_units BIGINT -- users with a shown suggestion in the window
-- column: shown_sum DOUBLE -- Σ shown (per user, in the window)
-- column: shown_sum_squares DOUBLE -- Σ shown²
-- column: accepted_sum DOUBLE -- Σ accepted (per user, in the window)
-- column: accepted_sum_squares DOUBLE -- Σ accepted²
-- column: accepted_shown_sum DOUBLE -- Σ accepted · shown
-- column: latency_sum DOUBLE -- Σ latency_ms of shown suggestions (per user)
-- column: latency_sum_squares DOUBLE -- Σ (per-user latency sum)²
-- column: latency_shown_sum DOUBLE -- Σ latency sum · shown
-- column: runs_sum DOUBLE -- Σ build and test runs (per user, in the window)
-- column: runs_sum_squares DOUBLE -- Σ runs²
-- column: failed_runs_sum DOUBLE -- Σ runs with an error (per user)
-- column: failed_runs_sum_squares DOUBLE -- Σ failed runs²
-- column: failed_runs_runs_sum DOUBLE -- Σ failed runs · runs

WITH hashed AS (
    SELECT
        a.experiment_id,
        a.user_id,
        a.variant,
        a.variant = e.control_variant AS is_control,
        COALESCE($window_start, e.started_at) AS window_start,
        COALESCE($window_end, e.ended_at) AS window_end,
        a.assigned_at,
        MD5(CONCAT(a.experiment_id, ':', a.user_id)) AS digest
    FROM assignments AS a
    INNER JOIN experiments AS e ON e.experiment_id = a.experiment_id
    WHERE a.experiment_id = $experiment_id
),

bucketed AS (
    SELECT
        experiment_id,
        user_id,
        variant,
        is_control,
        window_start,
        window_end,
        assigned_at,
        CAST(
            (STRPOS('0123456789abcdef', SUBSTR(digest, 1, 1)) - 1) * 4096
            + (STRPOS('0123456789abcdef', SUBSTR(digest, 2, 1)) - 1) * 256
            + (STRPOS('0123456789abcdef', SUBSTR(digest, 3, 1)) - 1) * 16
            + (STRPOS('0123456789abcdef', SUBSTR(digest, 4, 1)) - 1) AS DOUBLE
        ) / 65536.0 AS bucket
    FROM hashed
),

units AS (
    SELECT
        experiment_id,
        user_id,
        variant,
        is_control,
        window_start,
        window_end
    FROM bucketed
    WHERE (is_control OR bucket < $exposed_share)
        AND (window_end IS NULL OR assigned_at < window_end)
),

bounds AS (
    SELECT
        COALESCE($window_start, e.started_at) AS window_start,
        COALESCE($window_end, e.ended_at) AS window_end
    FROM experiments AS e
    WHERE e.experiment_id = $experiment_id
),

sug_all AS (
    -- every user's shown suggestions in the window, aggregated before the join to the units
    -- (the 10⁷-row side meets a one-row table, not a hash join)
    SELECT
        s.user_id,
        COUNT(*) AS shown,
        SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END)
            AS accepted,
        SUM(s.latency_ms) AS latency
    FROM suggestions AS s
    CROSS JOIN bounds AS b
    WHERE s.outcome <> 'not_shown'
        AND s.shown_at >= b.window_start
        AND (b.window_end IS NULL OR s.shown_at < b.window_end)
    GROUP BY s.user_id
),

sug AS (
    SELECT
        a.user_id,
        a.shown,
        a.accepted,
        a.latency
    FROM sug_all AS a
    WHERE a.user_id IN (SELECT u.user_id FROM units AS u)
),

run AS (
    SELECT
        u.user_id,
        COUNT(*) AS runs,
        SUM(CASE WHEN r.error_type <> 'none' THEN 1 ELSE 0 END) AS failed_runs
    FROM units AS u
    INNER JOIN runs AS r ON r.user_id = u.user_id
    WHERE r.ran_at >= u.window_start
        AND (u.window_end IS NULL OR r.ran_at < u.window_end)
    GROUP BY u.user_id
),

per_user AS (
    SELECT
        u.experiment_id,
        u.variant,
        u.is_control,
        CAST(COALESCE(sg.shown, 0) AS DOUBLE) AS shown,
        CAST(COALESCE(sg.accepted, 0) AS DOUBLE) AS accepted,
        CAST(COALESCE(sg.latency, 0) AS DOUBLE) AS latency,
        CAST(COALESCE(rn.runs, 0) AS DOUBLE) AS runs,
        CAST(COALESCE(rn.failed_runs, 0) AS DOUBLE) AS failed_runs
    FROM units AS u
    LEFT JOIN sug AS sg ON sg.user_id = u.user_id
    LEFT JOIN run AS rn ON rn.user_id = u.user_id
)

SELECT
    experiment_id,
    variant,
    is_control,
    COUNT(*) AS units,
    CAST(SUM(CASE WHEN shown > 0 THEN 1 ELSE 0 END) AS BIGINT) AS active_units,
    SUM(shown) AS shown_sum,
    SUM(shown * shown) AS shown_sum_squares,
    SUM(accepted) AS accepted_sum,
    SUM(accepted * accepted) AS accepted_sum_squares,
    SUM(accepted * shown) AS accepted_shown_sum,
    SUM(latency) AS latency_sum,
    SUM(latency * latency) AS latency_sum_squares,
    SUM(latency * shown) AS latency_shown_sum,
    SUM(runs) AS runs_sum,
    SUM(runs * runs) AS runs_sum_squares,
    SUM(failed_runs) AS failed_runs_sum,
    SUM(failed_runs * failed_runs) AS failed_runs_sum_squares,
    SUM(failed_runs * runs) AS failed_runs_runs_sum
FROM per_user
GROUP BY experiment_id, variant, is_control
ORDER BY is_control DESC, variant
