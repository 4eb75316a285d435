-- name: suggestion_funnel
-- category: funnel
-- description: The suggestion funnel: opportunity (a completion request) → shown → accepted
--   (in full or in part) → unchanged at 30 s (persistence check at 30 s with edit_ratio = 0)
--   → tests pass (the first test run of the same session at or after shown_at compiles and
--   has no failed test). Each step is a subset of the one before; step_conversion divides by
--   the previous step, overall_conversion by the opportunities. An accepted suggestion with
--   no 30 s check, or no later test run, does not pass that step. (The first test run at or
--   after shown_at, ties broken by run_id, is the run whose interval (previous test run of
--   the session, this run] holds shown_at: a range join, no per-suggestion ranking.)
-- param: start_date DATE = NULL -- first day included (UTC date of shown_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of shown_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version; NULL: all
-- column: step_order INTEGER -- 1 (opportunity) to 5 (tests pass)
-- column: step VARCHAR -- opportunity, shown, accepted, unchanged_30s, tests_pass
-- column: suggestions BIGINT -- suggestions that reached the step
-- column: step_conversion DOUBLE -- suggestions ÷ suggestions of the previous step (NULL for step 1)
-- column: overall_conversion DOUBLE -- suggestions ÷ opportunities

WITH requests AS (
    SELECT
        s.suggestion_id,
        s.session_id,
        s.shown_at,
        CASE WHEN s.outcome <> 'not_shown' THEN 1 ELSE 0 END AS is_shown,
        CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS is_accepted,
        CASE
            WHEN s.outcome IN ('accepted', 'partially_accepted') AND p.suggestion_id IS NOT NULL
                THEN 1
            ELSE 0
        END AS is_unchanged
    FROM suggestions AS s
    INNER JOIN sessions AS se ON se.session_id = s.session_id
    INNER JOIN users AS u ON u.user_id = s.user_id
    LEFT JOIN persistence AS p
        ON p.suggestion_id = s.suggestion_id AND p.check_after_s = 30 AND p.edit_ratio = 0
    WHERE ($start_date IS NULL OR CAST(s.shown_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(s.shown_at AS DATE) <= $end_date)
        AND ($language IS NULL OR s.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR s.model_version = $model_version)
),

test_runs AS (
    SELECT
        t.session_id,
        t.ran_at,
        CASE WHEN t.compile_ok AND t.tests_failed = 0 THEN 1 ELSE 0 END AS passed,
        LAG(t.ran_at) OVER (PARTITION BY t.session_id ORDER BY t.ran_at, t.run_id)
            AS previous_ran_at
    FROM runs AS t
    WHERE t.kind = 'test'
),

passing AS (
    SELECT CAST(COALESCE(SUM(t.passed), 0) AS BIGINT) AS tests_pass
    FROM requests AS r
    INNER JOIN test_runs AS t
        ON t.session_id = r.session_id
        AND r.shown_at <= t.ran_at
        AND (t.previous_ran_at IS NULL OR r.shown_at > t.previous_ran_at)
    WHERE r.is_unchanged = 1
),

totals AS (
    SELECT
        COUNT(*) AS opportunities,
        CAST(SUM(r.is_shown) AS BIGINT) AS shown,
        CAST(SUM(r.is_accepted) AS BIGINT) AS accepted,
        CAST(SUM(r.is_unchanged) AS BIGINT) AS unchanged_30s,
        MAX(pa.tests_pass) AS tests_pass
    FROM requests AS r
    CROSS JOIN passing AS pa
),

steps AS (
    SELECT 1 AS step_order, 'opportunity' AS step, opportunities AS suggestions FROM totals
    UNION ALL
    SELECT 2 AS step_order, 'shown' AS step, COALESCE(shown, 0) AS suggestions FROM totals
    UNION ALL
    SELECT 3 AS step_order, 'accepted' AS step, COALESCE(accepted, 0) AS suggestions FROM totals
    UNION ALL
    SELECT 4 AS step_order, 'unchanged_30s' AS step, COALESCE(unchanged_30s, 0) AS suggestions
    FROM totals
    UNION ALL
    SELECT 5 AS step_order, 'tests_pass' AS step, COALESCE(tests_pass, 0) AS suggestions
    FROM totals
)

SELECT
    CAST(step_order AS INTEGER) AS step_order,
    step,
    CAST(suggestions AS BIGINT) AS suggestions,
    CAST(suggestions AS DOUBLE)
    / NULLIF(LAG(suggestions) OVER (ORDER BY step_order), 0) AS step_conversion,
    CAST(suggestions AS DOUBLE)
    / NULLIF(FIRST_VALUE(suggestions) OVER (ORDER BY step_order), 0) AS overall_conversion
FROM steps
ORDER BY step_order
