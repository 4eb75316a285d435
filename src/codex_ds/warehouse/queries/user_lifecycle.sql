-- name: user_lifecycle
-- category: engagement
-- description: Weekly growth accounting. For each calendar week (Monday start) from the first
--   to the last week with a session: active users, split into new (first active week),
--   returning (active the week before too) and resurrected (not active the week before, active
--   in an earlier week); churned users (active the week before, not this week); and dormant
--   users (active in some earlier week, not this week; churned ones included). Identities:
--   active = new + returning + resurrected; active of the previous week = returning + churned.
--   Active = a session started in the week; the filters restrict the sessions counted.
-- param: start_date DATE = NULL -- first week reported (weeks starting on or after it); NULL: all
-- param: end_date DATE = NULL -- last week reported (weeks starting on or before it); NULL: all
-- param: language VARCHAR = NULL in LANGUAGES -- only sessions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: week DATE -- Monday of the week
-- column: active_users BIGINT -- users active in the week
-- column: new_users BIGINT -- active users whose first active week it is
-- column: returning_users BIGINT -- active users also active the week before
-- column: resurrected_users BIGINT -- active users inactive the week before, active earlier
-- column: churned_users BIGINT -- users active the week before and not in this week
-- column: dormant_users BIGINT -- users active in an earlier week and not in this week

WITH activity AS (
    SELECT DISTINCT
        se.user_id,
        CAST(DATE_TRUNC('week', CAST(se.started_at AS DATE)) AS DATE) AS week
    FROM sessions AS se
    INNER JOIN users AS u ON u.user_id = se.user_id
    WHERE ($language IS NULL OR se.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
),

first_week AS (
    SELECT user_id, MIN(week) AS first_week
    FROM activity
    GROUP BY user_id
),

bounds AS (
    SELECT MIN(week) AS first_week, MAX(week) AS last_week
    FROM activity
),

weeks AS (
    SELECT CAST(g.week AS DATE) AS week
    FROM (
        SELECT UNNEST(GENERATE_SERIES(b.first_week, b.last_week, INTERVAL 7 DAY)) AS week
        FROM bounds AS b
    ) AS g
),

flags AS (
    SELECT
        w.week,
        f.first_week,
        CASE WHEN cur.user_id IS NOT NULL THEN 1 ELSE 0 END AS active,
        CASE WHEN prev.user_id IS NOT NULL THEN 1 ELSE 0 END AS active_before
    FROM first_week AS f
    INNER JOIN weeks AS w ON w.week >= f.first_week
    LEFT JOIN activity AS cur ON cur.user_id = f.user_id AND cur.week = w.week
    LEFT JOIN activity AS prev ON prev.user_id = f.user_id AND prev.week = DATE_ADD(w.week, -7)
),

counts AS (
    SELECT
        week,
        CAST(SUM(active) AS BIGINT) AS active_users,
        CAST(SUM(CASE WHEN active = 1 AND first_week = week THEN 1 ELSE 0 END) AS BIGINT)
            AS new_users,
        CAST(SUM(CASE WHEN active = 1 AND active_before = 1 THEN 1 ELSE 0 END) AS BIGINT)
            AS returning_users,
        CAST(SUM(CASE WHEN active = 1 AND active_before = 0 AND first_week < week THEN 1 ELSE 0 END)
            AS BIGINT) AS resurrected_users,
        CAST(SUM(CASE WHEN active = 0 AND active_before = 1 THEN 1 ELSE 0 END) AS BIGINT)
            AS churned_users,
        CAST(SUM(CASE WHEN active = 0 AND first_week < week THEN 1 ELSE 0 END) AS BIGINT)
            AS dormant_users
    FROM flags
    GROUP BY week
)

SELECT
    week,
    active_users,
    new_users,
    returning_users,
    resurrected_users,
    churned_users,
    dormant_users
FROM counts
WHERE ($start_date IS NULL OR week >= $start_date)
    AND ($end_date IS NULL OR week <= $end_date)
ORDER BY week
