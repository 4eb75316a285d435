WITH base AS (
  SELECT
    c.api,
    c.scope,
    c.scope_id,
    c.day,
    c.breakdown,
    CASE @dimension
      WHEN 'language'
      THEN c.language
      WHEN 'editor'
      THEN c.editor
      WHEN 'model'
      THEN c.model
      ELSE c.feature
    END AS dimension_value,
    CASE WHEN c.editor <> 'all' THEN 1 ELSE 0 END + CASE WHEN c.model <> 'all' THEN 1 ELSE 0 END + CASE WHEN c.language <> 'all' THEN 1 ELSE 0 END + CASE WHEN c.feature <> 'all' THEN 1 ELSE 0 END AS split_dims,
    c.suggestions,
    c.acceptances,
    c.lines_suggested,
    c.lines_accepted,
    c.active_users,
    c.engaged_users
  FROM copilot_daily AS c
  WHERE
    (
      @start_date IS NULL OR c.day >= @start_date
    )
    AND (
      @end_date IS NULL OR c.day <= @end_date
    )
    AND (
      @api IS NULL OR c.api = @api
    )
    AND (
      @scope_id IS NULL OR c.scope_id = @scope_id
    )
), shapes AS (
  SELECT
    api,
    scope,
    scope_id,
    day,
    breakdown,
    MAX(split_dims) AS split_dims,
    MAX(CASE WHEN dimension_value <> 'all' THEN 1 ELSE 0 END) AS splits_dimension
  FROM base
  GROUP BY
    api,
    scope,
    scope_id,
    day,
    breakdown
), chosen AS (
  SELECT
    api,
    scope,
    scope_id,
    day,
    breakdown
  FROM (
    SELECT
      api,
      scope,
      scope_id,
      day,
      breakdown,
      ROW_NUMBER() OVER (
        PARTITION BY api, scope, scope_id, day
        ORDER BY split_dims NULLS LAST, breakdown NULLS LAST
      ) AS preference
    FROM shapes
    WHERE
      splits_dimension = 1
  ) AS ranked
  WHERE
    preference = 1
)
SELECT
  b.api,
  b.scope,
  b.scope_id,
  b.day,
  CAST(@dimension AS STRING) AS dimension,
  b.dimension_value,
  b.breakdown,
  COUNT(*) AS cells,
  CAST(SUM(b.suggestions) AS INT64) AS suggestions,
  CAST(SUM(CASE WHEN NOT b.suggestions IS NULL THEN b.acceptances END) AS INT64) AS acceptances,
  CAST(SUM(CASE WHEN NOT b.suggestions IS NULL THEN b.acceptances END) AS FLOAT64) / NULLIF(SUM(b.suggestions), 0) AS acceptance_rate,
  CAST(SUM(b.lines_suggested) AS INT64) AS lines_suggested,
  CAST(SUM(b.lines_accepted) AS INT64) AS lines_accepted,
  CASE WHEN COUNT(*) = 1 THEN MAX(b.active_users) END AS active_users,
  CASE WHEN COUNT(*) = 1 THEN MAX(b.engaged_users) END AS engaged_users
FROM base AS b
INNER JOIN chosen AS c
  ON c.api = b.api
  AND c.scope = b.scope
  AND c.scope_id = b.scope_id
  AND c.day = b.day
  AND c.breakdown = b.breakdown
GROUP BY
  b.api,
  b.scope,
  b.scope_id,
  b.day,
  b.breakdown,
  b.dimension_value
ORDER BY
  b.api NULLS LAST,
  b.scope NULLS LAST,
  b.scope_id NULLS LAST,
  b.day NULLS LAST,
  b.dimension_value NULLS LAST
