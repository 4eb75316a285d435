-- name: monitor_daily_metrics
-- category: time_series
-- description: The daily inputs of the monitors (`codex-ds monitor`): per UTC day, overall
--   (dimension 'overall', value 'all'), by language and by model version, the counts behind
--   the four monitored metrics: acceptance rate (accepted ÷ shown), p90, p95 and p99
--   latency of shown suggestions (continuous percentiles), test pass rate (test runs with compile_ok
--   and no failed test ÷ test runs) and error rate (build and test runs whose error_type is
--   not 'none' ÷ runs). A row exists for each (day, dimension value) with at least one shown
--   suggestion or one run; missing counts are 0 and undefined rates NULL. Runs without a
--   model version (no accepted suggestion before them) count in 'overall' and by language
--   only.
-- param: start_date DATE = NULL -- first day included (UTC); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC); NULL: no upper bound
-- param: dimension VARCHAR = NULL in (overall, language, model_version) -- only this breakdown; NULL: all three
-- column: day DATE -- the day (UTC)
-- column: dimension VARCHAR -- the breakdown: overall, language or model_version
-- column: dimension_value VARCHAR -- the language or model version ('all' for overall)
-- column: shown BIGINT -- suggestions shown
-- column: accepted BIGINT -- shown suggestions accepted in full or in part
-- column: acceptance_rate DOUBLE -- accepted ÷ shown
-- column: latency_p90_ms DOUBLE -- 90th percentile of the latency of shown suggestions
-- column: latency_p95_ms DOUBLE -- 95th percentile of the latency of shown suggestions
-- column: latency_p99_ms DOUBLE -- 99th percentile (with p90: the density near p95)
-- column: test_runs BIGINT -- test runs
-- column: tests_passing BIGINT -- test runs that compiled and had no failed test
-- column: test_pass_rate DOUBLE -- tests_passing ÷ test_runs
-- column: runs BIGINT -- build and test runs
-- column: error_runs BIGINT -- runs whose error_type is not 'none'
-- column: error_rate DOUBLE -- error_runs ÷ runs

-- The three percentiles come from one PERCENTILE_CONT with a list of fractions (one sort
-- of each group instead of three; Spark: percentile(x, array(...))).

WITH shown AS (
    SELECT
        CAST(s.shown_at AS DATE) AS day,
        s.language,
        s.model_version,
        CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END AS accepted,
        s.latency_ms
    FROM suggestions AS s
    WHERE s.outcome <> 'not_shown'
        AND ($start_date IS NULL OR CAST(s.shown_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(s.shown_at AS DATE) <= $end_date)
),

run_flags AS (
    SELECT
        CAST(r.ran_at AS DATE) AS day,
        r.language,
        r.model_version,
        CASE WHEN r.kind = 'test' THEN 1 ELSE 0 END AS is_test,
        CASE WHEN r.kind = 'test' AND r.compile_ok AND r.tests_failed = 0 THEN 1 ELSE 0 END
            AS passing,
        CASE WHEN r.error_type <> 'none' THEN 1 ELSE 0 END AS is_error
    FROM runs AS r
    WHERE ($start_date IS NULL OR CAST(r.ran_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(r.ran_at AS DATE) <= $end_date)
),

suggestion_cells AS (
    SELECT
        day,
        'overall' AS dimension,
        'all' AS dimension_value,
        COUNT(*) AS shown,
        SUM(accepted) AS accepted,
        PERCENTILE_CONT([0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms_q
    FROM shown
    GROUP BY day
    UNION ALL
    SELECT
        day,
        'language' AS dimension,
        language AS dimension_value,
        COUNT(*) AS shown,
        SUM(accepted) AS accepted,
        PERCENTILE_CONT([0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms_q
    FROM shown
    GROUP BY day, language
    UNION ALL
    SELECT
        day,
        'model_version' AS dimension,
        model_version AS dimension_value,
        COUNT(*) AS shown,
        SUM(accepted) AS accepted,
        PERCENTILE_CONT([0.9, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms_q
    FROM shown
    GROUP BY day, model_version
),

run_cells AS (
    SELECT
        day,
        'overall' AS dimension,
        'all' AS dimension_value,
        SUM(is_test) AS test_runs,
        SUM(passing) AS tests_passing,
        COUNT(*) AS runs,
        SUM(is_error) AS error_runs
    FROM run_flags
    GROUP BY day
    UNION ALL
    SELECT
        day,
        'language' AS dimension,
        language AS dimension_value,
        SUM(is_test) AS test_runs,
        SUM(passing) AS tests_passing,
        COUNT(*) AS runs,
        SUM(is_error) AS error_runs
    FROM run_flags
    GROUP BY day, language
    UNION ALL
    SELECT
        day,
        'model_version' AS dimension,
        model_version AS dimension_value,
        SUM(is_test) AS test_runs,
        SUM(passing) AS tests_passing,
        COUNT(*) AS runs,
        SUM(is_error) AS error_runs
    FROM run_flags
    WHERE model_version IS NOT NULL
    GROUP BY day, model_version
),

cells AS (
    SELECT
        COALESCE(s.day, r.day) AS day,
        COALESCE(s.dimension, r.dimension) AS dimension,
        COALESCE(s.dimension_value, r.dimension_value) AS dimension_value,
        COALESCE(s.shown, 0) AS shown,
        COALESCE(s.accepted, 0) AS accepted,
        s.latency_ms_q[1] AS latency_p90_ms,
        s.latency_ms_q[2] AS latency_p95_ms,
        s.latency_ms_q[3] AS latency_p99_ms,
        COALESCE(r.test_runs, 0) AS test_runs,
        COALESCE(r.tests_passing, 0) AS tests_passing,
        COALESCE(r.runs, 0) AS runs,
        COALESCE(r.error_runs, 0) AS error_runs
    FROM suggestion_cells AS s
    FULL OUTER JOIN run_cells AS r
        ON s.day = r.day
        AND s.dimension = r.dimension
        AND s.dimension_value = r.dimension_value
)

SELECT
    day,
    dimension,
    dimension_value,
    CAST(shown AS BIGINT) AS shown,
    CAST(accepted AS BIGINT) AS accepted,
    CAST(accepted AS DOUBLE) / NULLIF(shown, 0) AS acceptance_rate,
    CAST(latency_p90_ms AS DOUBLE) AS latency_p90_ms,
    CAST(latency_p95_ms AS DOUBLE) AS latency_p95_ms,
    CAST(latency_p99_ms AS DOUBLE) AS latency_p99_ms,
    CAST(test_runs AS BIGINT) AS test_runs,
    CAST(tests_passing AS BIGINT) AS tests_passing,
    CAST(tests_passing AS DOUBLE) / NULLIF(test_runs, 0) AS test_pass_rate,
    CAST(runs AS BIGINT) AS runs,
    CAST(error_runs AS BIGINT) AS error_runs,
    CAST(error_runs AS DOUBLE) / NULLIF(runs, 0) AS error_rate
FROM cells
WHERE ($dimension IS NULL OR dimension = $dimension)
ORDER BY day, dimension, dimension_value
