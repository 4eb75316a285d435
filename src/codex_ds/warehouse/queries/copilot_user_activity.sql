-- name: copilot_user_activity
-- category: copilot
-- description: GitHub Copilot per-user reports (copilot_user_daily) summed per API, scope and
--   day: users reported, active users (interactions > 0, GitHub's definition), users of chat,
--   agent mode and the CLI, interactions, code generations and acceptances with the acceptance
--   rate = acceptances ÷ generations, and lines added and deleted.
-- param: start_date DATE = NULL -- first day included; NULL: no lower bound
-- param: end_date DATE = NULL -- last day included; NULL: no upper bound
-- param: api VARCHAR = NULL in COPILOT_APIS -- only this API generation; NULL: all
-- param: scope_id VARCHAR = NULL in copilot_user_daily.scope_id -- only this organisation / enterprise; NULL: all
-- column: api VARCHAR -- API generation the rows came from
-- column: scope VARCHAR -- organization, enterprise, team or unknown
-- column: scope_id VARCHAR -- organisation / enterprise id ('' when absent)
-- column: day DATE -- day of activity
-- column: users BIGINT -- users with a report that day
-- column: active_users BIGINT -- users with interactions > 0
-- column: chat_users BIGINT -- users who used chat
-- column: agent_users BIGINT -- users who used agent mode
-- column: cli_users BIGINT -- users who used the Copilot CLI
-- column: interactions BIGINT -- Σ user-initiated interactions
-- column: generations BIGINT -- Σ code generations
-- column: acceptances BIGINT -- Σ code acceptances
-- column: acceptance_rate DOUBLE -- acceptances ÷ generations
-- column: loc_added BIGINT -- Σ lines added
-- column: loc_deleted BIGINT -- Σ lines deleted

WITH counts AS (
    SELECT
        c.api,
        c.scope,
        c.scope_id,
        c.day,
        COUNT(*) AS users,
        CAST(SUM(CASE WHEN c.active THEN 1 ELSE 0 END) AS BIGINT) AS active_users,
        CAST(SUM(CASE WHEN c.used_chat THEN 1 ELSE 0 END) AS BIGINT) AS chat_users,
        CAST(SUM(CASE WHEN c.used_agent THEN 1 ELSE 0 END) AS BIGINT) AS agent_users,
        CAST(SUM(CASE WHEN c.used_cli THEN 1 ELSE 0 END) AS BIGINT) AS cli_users,
        CAST(SUM(c.interactions) AS BIGINT) AS interactions,
        CAST(SUM(c.generations) AS BIGINT) AS generations,
        CAST(SUM(c.acceptances) AS BIGINT) AS acceptances,
        CAST(SUM(c.loc_added) AS BIGINT) AS loc_added,
        CAST(SUM(c.loc_deleted) AS BIGINT) AS loc_deleted
    FROM copilot_user_daily AS c
    WHERE ($start_date IS NULL OR c.day >= $start_date)
        AND ($end_date IS NULL OR c.day <= $end_date)
        AND ($api IS NULL OR c.api = $api)
        AND ($scope_id IS NULL OR c.scope_id = $scope_id)
    GROUP BY c.api, c.scope, c.scope_id, c.day
)

SELECT
    api,
    scope,
    scope_id,
    day,
    users,
    active_users,
    chat_users,
    agent_users,
    cli_users,
    interactions,
    generations,
    acceptances,
    CAST(acceptances AS DOUBLE) / NULLIF(generations, 0) AS acceptance_rate,
    loc_added,
    loc_deleted
FROM counts
ORDER BY api, scope, scope_id, day
