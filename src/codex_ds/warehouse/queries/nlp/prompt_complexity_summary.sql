-- name: prompt_complexity_summary
-- category: segmentation
-- description: The prompt features written by `codex-ds nlp features` (table prompt_features)
--   summarised per source (telemetry, humaneval, builtin) and status (ok, or why a prompt
--   could not be scored): prompts, mean and median complexity index, mean tokens and the
--   mean counts of constraint, edge-case and example cues (METHODOLOGY.md, NLP). Not part of
--   the default catalog: `codex-ds nlp report` runs it.
-- column: source VARCHAR -- where the prompts come from
-- column: status VARCHAR -- ok, or the reason the prompt was not scored
-- column: prompts BIGINT -- prompts in the group
-- column: mean_complexity DOUBLE -- mean complexity index
-- column: median_complexity DOUBLE -- median complexity index
-- column: mean_tokens DOUBLE -- mean tokens per prompt
-- column: mean_constraints DOUBLE -- mean constraint cues per prompt
-- column: mean_edge_cases DOUBLE -- mean edge-case cues per prompt
-- column: mean_examples DOUBLE -- mean example markers per prompt

SELECT
    source,
    status,
    COUNT(*) AS prompts,
    AVG(complexity) AS mean_complexity,
    MEDIAN(complexity) AS median_complexity,
    AVG(n_tokens) AS mean_tokens,
    AVG(n_constraints) AS mean_constraints,
    AVG(n_edge_cases) AS mean_edge_cases,
    AVG(n_examples) AS mean_examples
FROM prompt_features
GROUP BY source, status
ORDER BY source, status
