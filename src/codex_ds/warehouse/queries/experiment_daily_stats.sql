-- name: experiment_daily_stats
-- category: experiments
-- description: Cumulative per-arm sufficient statistics of one user-randomised experiment at
--   the end of each day with a shown suggestion after its start (METHODOLOGY.md §5.13, the
--   sequential monitoring chart). For day d: the users assigned by the end of d (intention to
--   treat, zeros when inactive) and, per user, the shown and accepted (incl. partial)
--   suggestions and their latency from the start of the experiment to the end of d; per arm:
--   n, the sums, the sums of squares and the cross products the delta method needs. The last
--   day's sums equal experiment_unit_stats' post-start sums when every unit is assigned by
--   then. Filters as in experiment_unit_stats (a post-hoc subgroup): language, editor and
--   segment select users by their users-table attributes; the date range bounds the days.
-- param: experiment_id VARCHAR = 'exp_model_v2' -- the experiment
-- param: start_date DATE = NULL -- first day of the events counted (UTC); NULL: the experiment start
-- param: end_date DATE = NULL -- last day of the events counted, and of assignment; NULL: the experiment end
-- param: language VARCHAR = NULL in LANGUAGES -- only users whose primary language is this; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only users who mostly work in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: experiment_id VARCHAR -- the experiment
-- column: day DATE -- the look: events up to the end of this day (UTC) count
-- column: variant VARCHAR -- assigned variant
-- column: is_control BOOLEAN -- the variant is the experiment's control
-- column: units BIGINT -- users of the arm assigned by the end of the day
-- column: shown_sum DOUBLE -- Σ shown (per user, cumulative)
-- column: shown_sum_squares DOUBLE -- Σ shown²
-- column: accepted_sum DOUBLE -- Σ accepted (per user, cumulative)
-- column: accepted_sum_squares DOUBLE -- Σ accepted²
-- column: accepted_shown_sum DOUBLE -- Σ accepted · shown
-- column: latency_sum DOUBLE -- Σ latency_ms of shown suggestions (per user, cumulative)
-- column: latency_sum_squares DOUBLE -- Σ (per-user latency sum)²
-- column: latency_shown_sum DOUBLE -- Σ latency sum · shown

WITH units AS (
    SELECT
        a.experiment_id,
        a.user_id,
        a.variant,
        a.variant = e.control_variant AS is_control,
        CAST(a.assigned_at AS DATE) AS assigned_day,
        e.started_at,
        e.ended_at
    FROM assignments AS a
    INNER JOIN experiments AS e ON e.experiment_id = a.experiment_id
    WHERE a.experiment_id = $experiment_id
        AND ($end_date IS NULL OR CAST(a.assigned_at AS DATE) <= $end_date)
        AND ($language IS NULL OR a.user_id IN (
            SELECT us.user_id FROM users AS us WHERE us.primary_language = $language
        ))
        AND ($editor IS NULL OR a.user_id IN (
            SELECT us.user_id FROM users AS us WHERE us.editor = $editor
        ))
        AND ($segment IS NULL OR a.user_id IN (
            SELECT us.user_id FROM users AS us WHERE us.segment = $segment
        ))
),

bounds AS (
    SELECT started_at, ended_at
    FROM experiments
    WHERE experiment_id = $experiment_id
),

user_days AS (
    -- every user's post-start days, aggregated before the join to the units (the 10⁷-row
    -- side meets a one-row table, not a hash join)
    SELECT
        s.user_id,
        CAST(s.shown_at AS DATE) AS day,
        COUNT(*) AS shown,
        SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END)
            AS accepted,
        SUM(s.latency_ms) AS latency
    FROM suggestions AS s
    CROSS JOIN bounds AS b
    WHERE s.outcome <> 'not_shown'
        AND s.shown_at >= b.started_at
        AND (b.ended_at IS NULL OR s.shown_at < b.ended_at)
        AND ($start_date IS NULL OR CAST(s.shown_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(s.shown_at AS DATE) <= $end_date)
    GROUP BY s.user_id, CAST(s.shown_at AS DATE)
),

daily AS (
    SELECT
        d.user_id,
        d.day,
        d.shown,
        d.accepted,
        d.latency
    FROM user_days AS d
    WHERE d.user_id IN (SELECT u.user_id FROM units AS u)
),

looks AS (
    SELECT DISTINCT day
    FROM daily
),

grid AS (
    SELECT
        u.user_id,
        l.day
    FROM units AS u
    CROSS JOIN looks AS l
    WHERE u.assigned_day <= l.day
),

cumulative AS (
    -- each user at each look: the sums of the user's days up to the look
    SELECT
        g.user_id,
        g.day,
        CAST(COALESCE(SUM(d.shown), 0) AS DOUBLE) AS shown,
        CAST(COALESCE(SUM(d.accepted), 0) AS DOUBLE) AS accepted,
        CAST(COALESCE(SUM(d.latency), 0) AS DOUBLE) AS latency
    FROM grid AS g
    LEFT JOIN daily AS d ON d.user_id = g.user_id AND d.day <= g.day
    GROUP BY g.user_id, g.day
)

SELECT
    u.experiment_id,
    c.day,
    u.variant,
    u.is_control,
    COUNT(*) AS units,
    SUM(c.shown) AS shown_sum,
    SUM(c.shown * c.shown) AS shown_sum_squares,
    SUM(c.accepted) AS accepted_sum,
    SUM(c.accepted * c.accepted) AS accepted_sum_squares,
    SUM(c.accepted * c.shown) AS accepted_shown_sum,
    SUM(c.latency) AS latency_sum,
    SUM(c.latency * c.latency) AS latency_sum_squares,
    SUM(c.latency * c.shown) AS latency_shown_sum
FROM cumulative AS c
INNER JOIN units AS u ON u.user_id = c.user_id
GROUP BY u.experiment_id, c.day, u.variant, u.is_control
ORDER BY c.day, u.is_control DESC, u.variant
