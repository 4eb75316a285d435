-- name: retention_day_n
-- category: retention
-- description: Day-N retention of weekly signup cohorts, both "on" (active exactly N days
--   after the signup day) and "on or after" (active on day N or any later day). Active on a
--   day = a session started that day (UTC). A user counts for day N only when signup day + N
--   lies between the first and the last day with a session in the warehouse (eligible_users):
--   other days are not observed and are left out of numerator and denominator.
-- param: days INTEGER[] = [1, 7, 14, 28] -- days since signup to report
-- param: start_date DATE = NULL -- first signup day included; NULL: no lower bound
-- param: end_date DATE = NULL -- last signup day included; NULL: no upper bound
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: cohort_week DATE -- Monday of the signup week
-- column: day_n INTEGER -- days since the signup day
-- column: cohort_users BIGINT -- users who signed up in the week
-- column: eligible_users BIGINT -- cohort users whose day N is observed
-- column: retained_on BIGINT -- eligible users active on day N
-- column: retained_on_or_after BIGINT -- eligible users active on day N or later
-- column: retention_on DOUBLE -- retained_on ÷ eligible_users
-- column: retention_on_or_after DOUBLE -- retained_on_or_after ÷ eligible_users

WITH observed AS (
    SELECT
        CAST(MIN(started_at) AS DATE) AS first_day,
        CAST(MAX(started_at) AS DATE) AS last_day
    FROM sessions
),

cohort AS (
    SELECT
        u.user_id,
        CAST(u.signup_at AS DATE) AS signup_day,
        CAST(DATE_TRUNC('week', CAST(u.signup_at AS DATE)) AS DATE) AS cohort_week
    FROM users AS u
    WHERE ($start_date IS NULL OR CAST(u.signup_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(u.signup_at AS DATE) <= $end_date)
        AND ($segment IS NULL OR u.segment = $segment)
),

activity AS (
    SELECT DISTINCT
        c.user_id,
        DATE_DIFF('day', c.signup_day, CAST(se.started_at AS DATE)) AS day_n
    FROM cohort AS c
    INNER JOIN sessions AS se ON se.user_id = c.user_id
),

last_active AS (
    SELECT user_id, MAX(day_n) AS last_day_n
    FROM activity
    GROUP BY user_id
),

report_days AS (
    SELECT DISTINCT CAST(d.day_n AS INTEGER) AS day_n
    FROM (SELECT UNNEST($days) AS day_n) AS d
),

grid AS (
    SELECT
        c.user_id,
        c.cohort_week,
        r.day_n,
        CASE
            WHEN DATE_ADD(c.signup_day, r.day_n) >= o.first_day
                AND DATE_ADD(c.signup_day, r.day_n) <= o.last_day THEN 1
            ELSE 0
        END AS eligible
    FROM cohort AS c
    CROSS JOIN report_days AS r
    CROSS JOIN observed AS o
),

counts AS (
    SELECT
        g.cohort_week,
        g.day_n,
        COUNT(*) AS cohort_users,
        CAST(SUM(g.eligible) AS BIGINT) AS eligible_users,
        CAST(SUM(CASE WHEN g.eligible = 1 AND a.user_id IS NOT NULL THEN 1 ELSE 0 END)
            AS BIGINT) AS retained_on,
        CAST(SUM(CASE WHEN g.eligible = 1 AND l.last_day_n >= g.day_n THEN 1 ELSE 0 END)
            AS BIGINT) AS retained_on_or_after
    FROM grid AS g
    LEFT JOIN activity AS a ON a.user_id = g.user_id AND a.day_n = g.day_n
    LEFT JOIN last_active AS l ON l.user_id = g.user_id
    GROUP BY g.cohort_week, g.day_n
)

SELECT
    cohort_week,
    day_n,
    cohort_users,
    eligible_users,
    retained_on,
    retained_on_or_after,
    CAST(retained_on AS DOUBLE) / NULLIF(eligible_users, 0) AS retention_on,
    CAST(retained_on_or_after AS DOUBLE) / NULLIF(eligible_users, 0) AS retention_on_or_after
FROM counts
ORDER BY cohort_week, day_n
