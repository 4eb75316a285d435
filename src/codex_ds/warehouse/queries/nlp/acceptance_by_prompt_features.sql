-- name: acceptance_by_prompt_features
-- category: segmentation
-- description: Acceptance of shown comment-triggered suggestions grouped by the features of
--   the prompt (comment) that produced them (table prompt_features, source 'telemetry',
--   status 'ok'): sufficient statistics (shown, accepted, Σ complexity, Σ tokens) per
--   combination of constraint, edge-case, example and nesting counts and half-unit of the
--   complexity index. The NLP analysis fits a binomial logistic trend on these groups
--   (METHODOLOGY.md, NLP). Not part of the default catalog: `codex-ds nlp report` runs it.
-- column: n_constraints INTEGER -- constraint cues in the prompt
-- column: n_edge_cases INTEGER -- edge-case cues in the prompt
-- column: n_examples INTEGER -- example markers in the prompt
-- column: nesting INTEGER -- nesting cues in the prompt
-- column: complexity_half_units INTEGER -- FLOOR(2 × complexity)
-- column: prompts BIGINT -- distinct prompts in the group
-- column: shown BIGINT -- suggestions shown (outcome <> 'not_shown')
-- column: accepted BIGINT -- shown suggestions accepted or partially accepted
-- column: sum_complexity DOUBLE -- Σ complexity over shown suggestions
-- column: sum_tokens BIGINT -- Σ prompt tokens over shown suggestions
-- column: acceptance_rate DOUBLE -- accepted ÷ shown

SELECT
    f.n_constraints,
    f.n_edge_cases,
    f.n_examples,
    f.nesting,
    CAST(FLOOR(f.complexity * 2) AS INTEGER) AS complexity_half_units,
    COUNT(DISTINCT f.prompt_id) AS prompts,
    COUNT(*) AS shown,
    CAST(SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END)
        AS BIGINT) AS accepted,
    SUM(f.complexity) AS sum_complexity,
    CAST(SUM(f.n_tokens) AS BIGINT) AS sum_tokens,
    CAST(SUM(CASE WHEN s.outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END)
        AS DOUBLE) / NULLIF(COUNT(*), 0) AS acceptance_rate
FROM suggestions AS s
INNER JOIN prompt_features AS f ON f.prompt_id = s.prompt_id
WHERE s.outcome <> 'not_shown'
    AND f.source = 'telemetry'
    AND f.status = 'ok'
GROUP BY
    f.n_constraints,
    f.n_edge_cases,
    f.n_examples,
    f.nesting,
    CAST(FLOOR(f.complexity * 2) AS INTEGER)
ORDER BY
    complexity_half_units,
    f.n_constraints,
    f.n_edge_cases,
    f.n_examples,
    f.nesting
