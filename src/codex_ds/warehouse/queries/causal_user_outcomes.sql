-- name: causal_user_outcomes
-- category: productivity
-- description: The per-user table of observational effect estimation (codex-ds causal
--   estimate; METHODOLOGY.md, causal methods): one row per user with at least one
--   dev_outcomes week in range, whether the user adopted the feature (the treatment; a user
--   without a feature_adoption row for it counts as not adopted), the mean merged PRs per
--   week and mean lead time over the weeks in range (outcomes), and pre-treatment covariates:
--   segment, primary language, editor, and tenure = days from the signup day to the first
--   week_start in dev_outcomes (0 for users who signed up later).
-- param: feature VARCHAR = 'chat' -- the feature whose adoption is the treatment
-- param: start_date DATE = NULL -- first week included (week_start); NULL: no lower bound
-- param: end_date DATE = NULL -- last week included (week_start); NULL: no upper bound
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- column: user_id VARCHAR -- the user
-- column: segment VARCHAR -- experience segment
-- column: primary_language VARCHAR -- the user's primary language
-- column: editor VARCHAR -- the user's editor
-- column: tenure_days INTEGER -- days from signup to the first week of dev_outcomes, at least 0
-- column: adopted BOOLEAN -- the user adopted the feature (treatment)
-- column: weeks BIGINT -- dev_outcomes weeks in range
-- column: prs_merged_per_week DOUBLE -- Σ prs_merged ÷ weeks
-- column: lead_time_hours DOUBLE -- mean of the weekly median lead times (weeks that record one)

WITH period AS (
    SELECT MIN(week_start) AS first_week
    FROM dev_outcomes
),

outcomes AS (
    SELECT
        o.user_id,
        COUNT(*) AS weeks,
        CAST(SUM(o.prs_merged) AS DOUBLE) AS prs_merged,
        AVG(o.lead_time_hours) AS lead_time_hours
    FROM dev_outcomes AS o
    WHERE ($start_date IS NULL OR o.week_start >= $start_date)
        AND ($end_date IS NULL OR o.week_start <= $end_date)
    GROUP BY o.user_id
),

tenure AS (
    SELECT
        u.user_id,
        DATE_DIFF('day', CAST(u.signup_at AS DATE), p.first_week) AS days
    FROM users AS u
    CROSS JOIN period AS p
)

SELECT
    u.user_id,
    u.segment,
    u.primary_language,
    u.editor,
    CAST(CASE WHEN te.days > 0 THEN te.days ELSE 0 END AS INTEGER) AS tenure_days,
    COALESCE(fa.adopted, FALSE) AS adopted,
    o.weeks,
    o.prs_merged / NULLIF(o.weeks, 0) AS prs_merged_per_week,
    o.lead_time_hours
FROM outcomes AS o
INNER JOIN users AS u ON u.user_id = o.user_id
INNER JOIN tenure AS te ON te.user_id = o.user_id
LEFT JOIN feature_adoption AS fa ON fa.user_id = o.user_id AND fa.feature = $feature
WHERE ($segment IS NULL OR u.segment = $segment)
ORDER BY u.user_id
