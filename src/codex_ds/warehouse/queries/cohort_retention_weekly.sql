-- name: cohort_retention_weekly
-- category: retention
-- description: Weekly signup cohorts: for each cohort (Monday of the signup week) and each
--   calendar week since, the cohort's users active that week (a session started in it) and
--   their share of the cohort. Week 0 is the signup week. Only weeks from the first to the
--   last week with a session in the warehouse are reported (activity outside them is not
--   observed; the first and last may be partial); cells with no active user are 0.
-- param: start_date DATE = NULL -- first signup day included; NULL: no lower bound
-- param: end_date DATE = NULL -- last signup day included; NULL: no upper bound
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: cohort_week DATE -- Monday of the signup week
-- column: week_n INTEGER -- calendar weeks since the signup week (0 = signup week)
-- column: activity_week DATE -- Monday of the week counted
-- column: cohort_users BIGINT -- users who signed up in the cohort week
-- column: active_users BIGINT -- cohort users with a session in the activity week
-- column: retention DOUBLE -- active_users ÷ cohort_users

WITH cohort AS (
    SELECT
        u.user_id,
        CAST(DATE_TRUNC('week', CAST(u.signup_at AS DATE)) AS DATE) AS cohort_week
    FROM users AS u
    WHERE ($start_date IS NULL OR CAST(u.signup_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(u.signup_at AS DATE) <= $end_date)
        AND ($segment IS NULL OR u.segment = $segment)
),

cohort_size AS (
    SELECT cohort_week, COUNT(*) AS cohort_users
    FROM cohort
    GROUP BY cohort_week
),

activity AS (
    SELECT DISTINCT
        c.user_id,
        c.cohort_week,
        CAST(DATE_TRUNC('week', CAST(se.started_at AS DATE)) AS DATE) AS activity_week
    FROM cohort AS c
    INNER JOIN sessions AS se ON se.user_id = c.user_id
),

bounds AS (
    SELECT
        CAST(DATE_TRUNC('week', CAST(MIN(started_at) AS DATE)) AS DATE) AS first_week,
        CAST(DATE_TRUNC('week', CAST(MAX(started_at) AS DATE)) AS DATE) AS last_week
    FROM sessions
),

weeks AS (
    SELECT CAST(g.activity_week AS DATE) AS activity_week
    FROM (
        SELECT UNNEST(GENERATE_SERIES(b.first_week, b.last_week, INTERVAL 7 DAY)) AS activity_week
        FROM bounds AS b
    ) AS g
),

active AS (
    SELECT cohort_week, activity_week, COUNT(*) AS active_users
    FROM activity
    GROUP BY cohort_week, activity_week
)

SELECT
    c.cohort_week,
    CAST(DATE_DIFF('day', c.cohort_week, w.activity_week) / 7 AS INTEGER) AS week_n,
    w.activity_week,
    c.cohort_users,
    COALESCE(a.active_users, 0) AS active_users,
    CAST(COALESCE(a.active_users, 0) AS DOUBLE) / NULLIF(c.cohort_users, 0) AS retention
FROM cohort_size AS c
INNER JOIN weeks AS w ON w.activity_week >= c.cohort_week
LEFT JOIN active AS a ON a.cohort_week = c.cohort_week AND a.activity_week = w.activity_week
ORDER BY c.cohort_week, w.activity_week
