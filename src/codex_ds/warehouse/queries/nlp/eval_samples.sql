-- name: eval_samples
-- category: experiments
-- description: Samples of the evaluation runs stored in the warehouse (tables eval_runs and
--   eval_results, written by `codex-ds eval run` and the eval step of `codex-ds all`), with
--   their completion and verdict, for the NLP analyses of pass rate and failure messages.
-- column: run_id VARCHAR -- the evaluation run
-- column: provider VARCHAR -- provider of the completions (simulated, replay, openai)
-- column: task_id VARCHAR -- the task
-- column: sample_index INTEGER -- sample number within the task
-- column: completion VARCHAR -- the completion that was run
-- column: passed BOOLEAN -- every test passed
-- column: failure_class VARCHAR -- coarse class of the verdict
-- column: exception_type VARCHAR -- exception or signal name
-- column: detail VARCHAR -- message of the failure

SELECT
    r.run_id,
    ru.provider,
    r.task_id,
    r.sample_index,
    r.completion,
    r.passed,
    r.failure_class,
    r.exception_type,
    r.detail
FROM eval_results AS r
INNER JOIN eval_runs AS ru ON ru.run_id = r.run_id
ORDER BY r.run_id, r.task_id, r.sample_index
