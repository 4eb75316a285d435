-- name: experiment_assignment_counts
-- category: experiments
-- description: Randomisation units (users) assigned to each variant of each experiment, for
--   the sample-ratio-mismatch check and the experiment listing. Experiments without any
--   assignment are left out.
-- param: experiment_id VARCHAR = NULL -- only this experiment; NULL: every experiment
-- column: experiment_id VARCHAR -- the experiment
-- column: name VARCHAR -- human-readable name of the experiment
-- column: variant VARCHAR -- assigned variant
-- column: is_control BOOLEAN -- the variant is the experiment's control
-- column: units BIGINT -- distinct users assigned to the variant
-- column: share DOUBLE -- units ÷ all units of the experiment

WITH counts AS (
    SELECT
        a.experiment_id,
        e.name,
        a.variant,
        a.variant = e.control_variant AS is_control,
        COUNT(DISTINCT a.user_id) AS units
    FROM assignments AS a
    INNER JOIN experiments AS e ON e.experiment_id = a.experiment_id
    WHERE ($experiment_id IS NULL OR a.experiment_id = $experiment_id)
    GROUP BY a.experiment_id, e.name, a.variant, e.control_variant
)

SELECT
    experiment_id,
    name,
    variant,
    is_control,
    units,
    CAST(units AS DOUBLE) / SUM(units) OVER (PARTITION BY experiment_id) AS share
FROM counts
ORDER BY experiment_id, is_control DESC, variant
