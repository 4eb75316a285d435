-- name: productivity_per_user
-- category: productivity
-- description: Per-user productivity over the sessions in range: sessions, active hours,
--   accepted suggestions (in full or in part) and accepted characters, each per active hour,
--   and the share of code written with AI = accepted characters ÷ (typed + accepted
--   characters), over the sessions that record typed_chars only (METHODOLOGY.md §1). A
--   suggestion counts with its session. Rates are NULL when their denominator is 0.
-- param: start_date DATE = NULL -- first day included (UTC date of the session start); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of the session start); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only sessions with this dominant language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: user_id VARCHAR -- the user
-- column: segment VARCHAR -- the user's experience segment
-- column: sessions BIGINT -- sessions in range
-- column: active_hours DOUBLE -- Σ active_minutes ÷ 60
-- column: accepted BIGINT -- suggestions accepted in full or in part
-- column: accepted_chars BIGINT -- Σ accepted_chars
-- column: accepted_per_active_hour DOUBLE -- accepted ÷ active_hours
-- column: accepted_chars_per_active_hour DOUBLE -- accepted_chars ÷ active_hours
-- column: typed_chars BIGINT -- Σ typed_chars of sessions that record it (NULL: none does)
-- column: ai_chars BIGINT -- Σ accepted_chars of sessions that record typed_chars
-- column: ai_code_share DOUBLE -- ai_chars ÷ (typed_chars + ai_chars)

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
)

SELECT
    p.user_id,
    u.segment,
    p.sessions,
    p.active_hours,
    p.accepted,
    p.accepted_chars,
    CAST(p.accepted AS DOUBLE) / NULLIF(p.active_hours, 0) AS accepted_per_active_hour,
    CAST(p.accepted_chars AS DOUBLE) / NULLIF(p.active_hours, 0) AS accepted_chars_per_active_hour,
    p.typed_chars,
    p.ai_chars,
    CAST(p.ai_chars AS DOUBLE) / NULLIF(p.typed_chars + p.ai_chars, 0) AS ai_code_share
FROM per_user AS p
INNER JOIN users AS u ON u.user_id = p.user_id
ORDER BY p.user_id
