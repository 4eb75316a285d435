-- name: productivity_by_segment
-- category: productivity
-- description: Productivity by experience segment: users, sessions per user, active hours per
--   user; accepted suggestions and accepted characters per active hour both pooled (Σ
--   accepted ÷ Σ active hours) and summarised across users (mean and median of the per-user
--   rates of productivity_per_user; users without active time are left out); and the share of
--   code written with AI, pooled over the sessions that record typed_chars (METHODOLOGY.md §1).
-- param: start_date DATE = NULL -- first day included (UTC date of the session start); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of the session start); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only sessions with this dominant language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: segment VARCHAR -- experience segment
-- column: users BIGINT -- users with a session in range
-- column: sessions BIGINT -- sessions
-- column: sessions_per_user DOUBLE -- sessions ÷ users
-- column: active_hours_per_user DOUBLE -- Σ active hours ÷ users
-- column: accepted_per_active_hour DOUBLE -- Σ accepted ÷ Σ active hours (pooled)
-- column: accepted_chars_per_active_hour DOUBLE -- Σ accepted_chars ÷ Σ active hours (pooled)
-- column: mean_user_accepted_per_active_hour DOUBLE -- mean over users of accepted ÷ active hours
-- column: median_user_accepted_per_active_hour DOUBLE -- median over users of accepted ÷ active hours
-- column: median_user_accepted_chars_per_active_hour DOUBLE -- median over users of accepted_chars ÷ active hours
-- column: ai_code_share DOUBLE -- Σ ai_chars ÷ (Σ typed_chars + Σ ai_chars) (pooled)

WITH sess AS (
    SELECT
        se.session_id,
        se.user_id,
        se.active_minutes,
        se.typed_chars
    FROM sessions AS se
    INNER JOIN users AS u ON u.user_id = se.user_id
    WHERE ($start_date IS NULL OR CAST(se.started_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(se.started_at AS DATE) <= $end_date)
        AND ($language IS NULL OR se.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
),

accepted_by_session AS (
    SELECT
        s.session_id,
        CAST(SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END)
            AS BIGINT) AS accepted,
        CAST(SUM(s.accepted_chars) AS BIGINT) AS accepted_chars
    FROM suggestions AS s
    INNER JOIN sess ON sess.session_id = s.session_id
    GROUP BY s.session_id
),

per_session AS (
    SELECT
        sess.user_id,
        sess.active_minutes,
        sess.typed_chars,
        COALESCE(a.accepted, 0) AS accepted,
        COALESCE(a.accepted_chars, 0) AS accepted_chars
    FROM sess
    LEFT JOIN accepted_by_session AS a ON a.session_id = sess.session_id
),

per_user AS (
    SELECT
        user_id,
        COUNT(*) AS sessions,
        SUM(active_minutes) / 60.0 AS active_hours,
        CAST(SUM(accepted) AS BIGINT) AS accepted,
        CAST(SUM(accepted_chars) AS BIGINT) AS accepted_chars,
        CAST(SUM(typed_chars) AS BIGINT) AS typed_chars,
        CAST(SUM(CASE WHEN typed_chars IS NOT NULL THEN accepted_chars END) AS BIGINT) AS ai_chars
    FROM per_session
    GROUP BY user_id
),

rates AS (
    SELECT
        u.segment,
        p.sessions,
        p.active_hours,
        p.accepted,
        p.accepted_chars,
        p.typed_chars,
        p.ai_chars,
        CAST(p.accepted AS DOUBLE) / NULLIF(p.active_hours, 0) AS accepted_per_active_hour,
        CAST(p.accepted_chars AS DOUBLE) / NULLIF(p.active_hours, 0)
            AS accepted_chars_per_active_hour
    FROM per_user AS p
    INNER JOIN users AS u ON u.user_id = p.user_id
),

by_segment AS (
    SELECT
        segment,
        COUNT(*) AS users,
        CAST(SUM(sessions) AS BIGINT) AS sessions,
        SUM(active_hours) AS active_hours,
        CAST(SUM(accepted) AS BIGINT) AS accepted,
        CAST(SUM(accepted_chars) AS BIGINT) AS accepted_chars,
        CAST(SUM(typed_chars) AS BIGINT) AS typed_chars,
        CAST(SUM(ai_chars) AS BIGINT) AS ai_chars,
        AVG(accepted_per_active_hour) AS mean_user_accepted_per_active_hour,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY accepted_per_active_hour)
            AS median_user_accepted_per_active_hour,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY accepted_chars_per_active_hour)
            AS median_user_accepted_chars_per_active_hour
    FROM rates
    GROUP BY segment
)

SELECT
    segment,
    users,
    sessions,
    CAST(sessions AS DOUBLE) / NULLIF(users, 0) AS sessions_per_user,
    active_hours / NULLIF(users, 0) AS active_hours_per_user,
    CAST(accepted AS DOUBLE) / NULLIF(active_hours, 0) AS accepted_per_active_hour,
    CAST(accepted_chars AS DOUBLE) / NULLIF(active_hours, 0) AS accepted_chars_per_active_hour,
    mean_user_accepted_per_active_hour,
    median_user_accepted_per_active_hour,
    median_user_accepted_chars_per_active_hour,
    CAST(ai_chars AS DOUBLE) / NULLIF(typed_chars + ai_chars, 0) AS ai_code_share
FROM by_segment
ORDER BY segment
