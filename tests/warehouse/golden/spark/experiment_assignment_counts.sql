WITH counts AS (
  SELECT
    a.experiment_id,
    e.name,
    a.variant,
    a.variant = e.control_variant AS is_control,
    COUNT(DISTINCT a.user_id) AS units
  FROM assignments AS a
  INNER JOIN experiments AS e
    ON e.experiment_id = a.experiment_id
  WHERE
    (
      :experiment_id IS NULL OR a.experiment_id = :experiment_id
    )
  GROUP BY
    a.experiment_id,
    e.name,
    a.variant,
    e.control_variant
)
SELECT
  experiment_id,
  name,
  variant,
  is_control,
  units,
  CAST(units AS DOUBLE) / SUM(units) OVER (PARTITION BY experiment_id) AS share
FROM counts
ORDER BY
  experiment_id NULLS LAST,
  is_control DESC,
  variant NULLS LAST
