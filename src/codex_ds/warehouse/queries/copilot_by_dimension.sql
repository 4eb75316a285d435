-- name: copilot_by_dimension
-- category: copilot
-- description: GitHub Copilot acceptance and users per day split by language, editor, model or
--   feature. Rows of different breakdowns overlap, so for each API, scope and day one
--   breakdown is used: among those that split by the dimension, the one split by the fewest
--   dimensions (ties by name), e.g. 'language' before 'editor_model_language'. Its cells are
--   added up per value of the dimension; acceptances count only in cells that report
--   suggestions (chat insertions have no suggestion count), so acceptance_rate = acceptances ÷
--   suggestions. Distinct user counts are never added: they are given only when one reported
--   cell makes up the value (cells = 1), NULL otherwise.
-- param: dimension VARCHAR = 'language' in (language, editor, model, feature) -- what to split by
-- param: start_date DATE = NULL -- first day included; NULL: no lower bound
-- param: end_date DATE = NULL -- last day included; NULL: no upper bound
-- param: api VARCHAR = NULL in COPILOT_APIS -- only this API generation; NULL: all
-- param: scope_id VARCHAR = NULL in copilot_daily.scope_id -- only this organisation / enterprise; NULL: all
-- column: api VARCHAR -- API generation the rows came from
-- column: scope VARCHAR -- organization, enterprise, team or unknown
-- column: scope_id VARCHAR -- organisation / enterprise id ('' when absent)
-- column: day DATE -- day of activity
-- column: dimension VARCHAR -- the dimension split by
-- column: dimension_value VARCHAR -- its value (GitHub's names, e.g. vscode, typescriptreact)
-- column: breakdown VARCHAR -- the breakdown the numbers come from
-- column: cells BIGINT -- reported cells added up
-- column: suggestions BIGINT -- Σ suggestions
-- column: acceptances BIGINT -- Σ acceptances of cells that report suggestions
-- column: acceptance_rate DOUBLE -- acceptances ÷ suggestions
-- column: lines_suggested BIGINT -- Σ lines suggested
-- column: lines_accepted BIGINT -- Σ lines accepted
-- column: active_users BIGINT -- distinct active users when cells = 1, else NULL
-- column: engaged_users BIGINT -- distinct engaged users when cells = 1, else NULL

WITH base AS (
    SELECT
        c.api,
        c.scope,
        c.scope_id,
        c.day,
        c.breakdown,
        CASE $dimension
            WHEN 'language' THEN c.language
            WHEN 'editor' THEN c.editor
            WHEN 'model' THEN c.model
            ELSE c.feature
        END AS dimension_value,
        CASE WHEN c.editor <> 'all' THEN 1 ELSE 0 END
        + CASE WHEN c.model <> 'all' THEN 1 ELSE 0 END
        + CASE WHEN c.language <> 'all' THEN 1 ELSE 0 END
        + CASE WHEN c.feature <> 'all' THEN 1 ELSE 0 END AS split_dims,
        c.suggestions,
        c.acceptances,
        c.lines_suggested,
        c.lines_accepted,
        c.active_users,
        c.engaged_users
    FROM copilot_daily AS c
    WHERE ($start_date IS NULL OR c.day >= $start_date)
        AND ($end_date IS NULL OR c.day <= $end_date)
        AND ($api IS NULL OR c.api = $api)
        AND ($scope_id IS NULL OR c.scope_id = $scope_id)
),

shapes AS (
    SELECT
        api,
        scope,
        scope_id,
        day,
        breakdown,
        MAX(split_dims) AS split_dims,
        MAX(CASE WHEN dimension_value <> 'all' THEN 1 ELSE 0 END) AS splits_dimension
    FROM base
    GROUP BY api, scope, scope_id, day, breakdown
),

chosen AS (
    SELECT api, scope, scope_id, day, breakdown
    FROM (
        SELECT
            api,
            scope,
            scope_id,
            day,
            breakdown,
            ROW_NUMBER() OVER (
                PARTITION BY api, scope, scope_id, day ORDER BY split_dims, breakdown
            ) AS preference
        FROM shapes
        WHERE splits_dimension = 1
    ) AS ranked
    WHERE preference = 1
)

SELECT
    b.api,
    b.scope,
    b.scope_id,
    b.day,
    CAST($dimension AS VARCHAR) AS dimension,
    b.dimension_value,
    b.breakdown,
    COUNT(*) AS cells,
    CAST(SUM(b.suggestions) AS BIGINT) AS suggestions,
    CAST(SUM(CASE WHEN b.suggestions IS NOT NULL THEN b.acceptances END) AS BIGINT)
        AS acceptances,
    CAST(SUM(CASE WHEN b.suggestions IS NOT NULL THEN b.acceptances END) AS DOUBLE)
    / NULLIF(SUM(b.suggestions), 0) AS acceptance_rate,
    CAST(SUM(b.lines_suggested) AS BIGINT) AS lines_suggested,
    CAST(SUM(b.lines_accepted) AS BIGINT) AS lines_accepted,
    CASE WHEN COUNT(*) = 1 THEN MAX(b.active_users) END AS active_users,
    CASE WHEN COUNT(*) = 1 THEN MAX(b.engaged_users) END AS engaged_users
FROM base AS b
INNER JOIN chosen AS c
    ON c.api = b.api
    AND c.scope = b.scope
    AND c.scope_id = b.scope_id
    AND c.day = b.day
    AND c.breakdown = b.breakdown
GROUP BY b.api, b.scope, b.scope_id, b.day, b.breakdown, b.dimension_value
ORDER BY b.api, b.scope, b.scope_id, b.day, b.dimension_value
