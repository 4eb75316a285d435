-- name: run_failure_rates
-- category: errors
-- description: Compile failure rate of build runs (compile_ok = false ÷ build runs) and test
--   pass and failure rates of test runs (pass = compile_ok and tests_failed = 0) by model
--   version and language (METHODOLOGY.md §1), with failed and passed test counts.
-- param: start_date DATE = NULL -- first day included (UTC date of ran_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of ran_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only runs in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only runs after this model's suggestions; NULL: all
-- column: model_version VARCHAR -- model whose suggestions preceded the runs (NULL: none)
-- column: language VARCHAR -- language built or tested
-- column: build_runs BIGINT -- build runs
-- column: compile_failures BIGINT -- build runs with compile_ok = false
-- column: compile_failure_rate DOUBLE -- compile_failures ÷ build_runs
-- column: test_runs BIGINT -- test runs
-- column: test_passes BIGINT -- test runs with compile_ok and tests_failed = 0
-- column: test_pass_rate DOUBLE -- test_passes ÷ test_runs
-- column: test_failure_rate DOUBLE -- 1 − test_pass_rate
-- column: tests_passed BIGINT -- Σ tests_passed over test runs
-- column: tests_failed BIGINT -- Σ tests_failed over test runs

WITH filtered AS (
    SELECT
        r.model_version,
        r.language,
        r.kind,
        r.compile_ok,
        r.tests_passed,
        r.tests_failed
    FROM runs AS r
    INNER JOIN sessions AS se ON se.session_id = r.session_id
    INNER JOIN users AS u ON u.user_id = r.user_id
    WHERE ($start_date IS NULL OR CAST(r.ran_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(r.ran_at AS DATE) <= $end_date)
        AND ($language IS NULL OR r.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR r.model_version = $model_version)
),

counts AS (
    SELECT
        model_version,
        language,
        CAST(SUM(CASE WHEN kind = 'build' THEN 1 ELSE 0 END) AS BIGINT) AS build_runs,
        CAST(SUM(CASE WHEN kind = 'build' AND NOT compile_ok THEN 1 ELSE 0 END) AS BIGINT)
            AS compile_failures,
        CAST(SUM(CASE WHEN kind = 'test' THEN 1 ELSE 0 END) AS BIGINT) AS test_runs,
        CAST(SUM(CASE WHEN kind = 'test' AND compile_ok AND tests_failed = 0 THEN 1 ELSE 0 END)
            AS BIGINT) AS test_passes,
        CAST(SUM(CASE WHEN kind = 'test' THEN tests_passed ELSE 0 END) AS BIGINT) AS tests_passed,
        CAST(SUM(CASE WHEN kind = 'test' THEN tests_failed ELSE 0 END) AS BIGINT) AS tests_failed
    FROM filtered
    GROUP BY model_version, language
)

SELECT
    model_version,
    language,
    build_runs,
    compile_failures,
    CAST(compile_failures AS DOUBLE) / NULLIF(build_runs, 0) AS compile_failure_rate,
    test_runs,
    test_passes,
    CAST(test_passes AS DOUBLE) / NULLIF(test_runs, 0) AS test_pass_rate,
    1 - CAST(test_passes AS DOUBLE) / NULLIF(test_runs, 0) AS test_failure_rate,
    tests_passed,
    tests_failed
FROM counts
ORDER BY model_version NULLS LAST, language
