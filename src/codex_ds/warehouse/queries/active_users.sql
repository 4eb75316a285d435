-- name: active_users
-- category: engagement
-- description: DAU, WAU and MAU for every calendar day from the first to the last day with a
--   session: distinct users with a session started on the day, in the trailing 7 days and in
--   the trailing 28 days ending that day (distinct counts over the window, never sums or
--   averages of daily counts), and stickiness = DAU ÷ MAU. The filters restrict the sessions
--   counted; the date range restricts the days reported, not the windows' look-back.
-- param: start_date DATE = NULL -- first day reported; NULL: the first day with a session
-- param: end_date DATE = NULL -- last day reported; NULL: the last day with a session
-- param: language VARCHAR = NULL in LANGUAGES -- only sessions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: day DATE -- the day (UTC)
-- column: dau BIGINT -- distinct users active on the day
-- column: wau BIGINT -- distinct users active in the 7 days ending on the day
-- column: mau BIGINT -- distinct users active in the 28 days ending on the day
-- column: stickiness DOUBLE -- dau ÷ mau
-- column: dau_wau DOUBLE -- dau ÷ wau
-- column: window_complete BOOLEAN -- the 28-day window lies inside the observed days

WITH activity AS (
    SELECT DISTINCT
        se.user_id,
        CAST(se.started_at AS DATE) AS day
    FROM sessions AS se
    WHERE ($language IS NULL OR se.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR se.user_id IN (
            SELECT u.user_id FROM users AS u WHERE u.segment = $segment
        ))
),

bounds AS (
    SELECT MIN(day) AS first_day, MAX(day) AS last_day
    FROM activity
),

calendar AS (
    SELECT CAST(g.day AS DATE) AS day
    FROM (
        SELECT UNNEST(GENERATE_SERIES(b.first_day, b.last_day, INTERVAL 1 DAY)) AS day
        FROM bounds AS b
    ) AS g
),

report_days AS (
    SELECT c.day
    FROM calendar AS c
    WHERE ($start_date IS NULL OR c.day >= $start_date)
        AND ($end_date IS NULL OR c.day <= $end_date)
),

per_user AS (
    -- each user once per reported day, with the last active day of the 28-day window
    SELECT
        r.day,
        a.user_id,
        MAX(a.day) AS last_active
    FROM report_days AS r
    INNER JOIN activity AS a ON a.day <= r.day AND a.day > DATE_ADD(r.day, -28)
    GROUP BY r.day, a.user_id
),

counts AS (
    SELECT
        r.day,
        CAST(COALESCE(SUM(CASE WHEN p.last_active = r.day THEN 1 ELSE 0 END), 0) AS BIGINT)
            AS dau,
        CAST(COALESCE(SUM(CASE WHEN p.last_active > DATE_ADD(r.day, -7) THEN 1 ELSE 0 END), 0)
            AS BIGINT) AS wau,
        COUNT(p.user_id) AS mau
    FROM report_days AS r
    LEFT JOIN per_user AS p ON p.day = r.day
    GROUP BY r.day
)

SELECT
    c.day,
    c.dau,
    c.wau,
    c.mau,
    CAST(c.dau AS DOUBLE) / NULLIF(c.mau, 0) AS stickiness,
    CAST(c.dau AS DOUBLE) / NULLIF(c.wau, 0) AS dau_wau,
    DATE_ADD(b.first_day, 27) <= c.day AS window_complete
FROM counts AS c
CROSS JOIN bounds AS b
ORDER BY c.day
