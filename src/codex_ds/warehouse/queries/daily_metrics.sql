-- name: daily_metrics
-- category: time_series
-- description: Daily acceptance rate, mean latency and test pass rate, each with its trailing
--   7-day value (pooled over the 7 calendar days ending on the day: Σ numerator ÷ Σ
--   denominator, so busy days weigh more than quiet ones), for every day from the first to the
--   last day with a shown suggestion or a test run; days without events have zero counts.
--   Acceptance and latency are over shown suggestions; test pass = compile_ok and no failed
--   test. The date range restricts the days reported, not the 7-day look-back.
-- param: start_date DATE = NULL -- first day reported; NULL: the first day with events
-- param: end_date DATE = NULL -- last day reported; NULL: the last day with events
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions and runs in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version (runs: the model used before the run); NULL: all
-- column: day DATE -- the day (UTC)
-- column: shown BIGINT -- suggestions shown
-- column: accepted BIGINT -- shown suggestions accepted in full or in part
-- column: acceptance_rate DOUBLE -- accepted ÷ shown
-- column: mean_latency_ms DOUBLE -- mean latency_ms of shown suggestions
-- column: test_runs BIGINT -- test runs
-- column: test_pass_rate DOUBLE -- passing test runs ÷ test runs
-- column: days_in_window INTEGER -- calendar days in the trailing window (up to 7)
-- column: acceptance_rate_7d DOUBLE -- Σ accepted ÷ Σ shown over the trailing 7 days
-- column: mean_latency_ms_7d DOUBLE -- mean latency over the trailing 7 days
-- column: test_pass_rate_7d DOUBLE -- Σ passing ÷ Σ test runs over the trailing 7 days

WITH shown AS (
    SELECT
        CAST(s.shown_at AS DATE) AS day,
        CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted,
        s.latency_ms
    FROM suggestions AS s
    INNER JOIN sessions AS se ON se.session_id = s.session_id
    INNER JOIN users AS u ON u.user_id = s.user_id
    WHERE s.outcome <> 'not_shown'
        AND ($language IS NULL OR s.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR s.model_version = $model_version)
),

tests AS (
    SELECT
        CAST(r.ran_at AS DATE) AS day,
        CASE WHEN r.compile_ok AND r.tests_failed = 0 THEN 1 ELSE 0 END AS passed
    FROM runs AS r
    INNER JOIN sessions AS se ON se.session_id = r.session_id
    INNER JOIN users AS u ON u.user_id = r.user_id
    WHERE r.kind = 'test'
        AND ($language IS NULL OR r.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR r.model_version = $model_version)
),

shown_by_day AS (
    SELECT
        day,
        COUNT(*) AS shown,
        CAST(SUM(accepted) AS BIGINT) AS accepted,
        SUM(latency_ms) AS latency_ms_sum
    FROM shown
    GROUP BY day
),

tests_by_day AS (
    SELECT
        day,
        COUNT(*) AS test_runs,
        CAST(SUM(passed) AS BIGINT) AS tests_passed
    FROM tests
    GROUP BY day
),

bounds AS (
    SELECT MIN(day) AS first_day, MAX(day) AS last_day
    FROM (
        SELECT day FROM shown_by_day
        UNION ALL
        SELECT day FROM tests_by_day
    ) AS d
),

calendar AS (
    SELECT CAST(g.day AS DATE) AS day
    FROM (
        SELECT UNNEST(GENERATE_SERIES(b.first_day, b.last_day, INTERVAL 1 DAY)) AS day
        FROM bounds AS b
    ) AS g
),

daily AS (
    SELECT
        c.day,
        COALESCE(s.shown, 0) AS shown,
        COALESCE(s.accepted, 0) AS accepted,
        COALESCE(s.latency_ms_sum, 0) AS latency_ms_sum,
        COALESCE(t.test_runs, 0) AS test_runs,
        COALESCE(t.tests_passed, 0) AS tests_passed
    FROM calendar AS c
    LEFT JOIN shown_by_day AS s ON s.day = c.day
    LEFT JOIN tests_by_day AS t ON t.day = c.day
),

rolling AS (
    SELECT
        day,
        shown,
        accepted,
        latency_ms_sum,
        test_runs,
        tests_passed,
        COUNT(*) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS days_in_window,
        SUM(shown) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS shown_7d,
        SUM(accepted) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS accepted_7d,
        SUM(latency_ms_sum) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
            AS latency_ms_sum_7d,
        SUM(test_runs) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS test_runs_7d,
        SUM(tests_passed) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
            AS tests_passed_7d
    FROM daily
)

SELECT
    day,
    CAST(shown AS BIGINT) AS shown,
    CAST(accepted AS BIGINT) AS accepted,
    CAST(accepted AS DOUBLE) / NULLIF(shown, 0) AS acceptance_rate,
    CAST(latency_ms_sum AS DOUBLE) / NULLIF(shown, 0) AS mean_latency_ms,
    CAST(test_runs AS BIGINT) AS test_runs,
    CAST(tests_passed AS DOUBLE) / NULLIF(test_runs, 0) AS test_pass_rate,
    CAST(days_in_window AS INTEGER) AS days_in_window,
    CAST(accepted_7d AS DOUBLE) / NULLIF(shown_7d, 0) AS acceptance_rate_7d,
    CAST(latency_ms_sum_7d AS DOUBLE) / NULLIF(shown_7d, 0) AS mean_latency_ms_7d,
    CAST(tests_passed_7d AS DOUBLE) / NULLIF(test_runs_7d, 0) AS test_pass_rate_7d
FROM rolling
WHERE ($start_date IS NULL OR day >= $start_date)
    AND ($end_date IS NULL OR day <= $end_date)
ORDER BY day
