-- name: copilot_daily_totals
-- category: copilot
-- description: GitHub Copilot metrics per day from the 'total' rows of copilot_daily (one per
--   API, scope and day): suggestions, acceptances and acceptance rate = acceptances ÷
--   suggestions (GitHub's definition, recomputed; NULL when there were no suggestions), lines,
--   and active and engaged users as GitHub reported them (distinct counts, never summed).
-- param: start_date DATE = NULL -- first day included; NULL: no lower bound
-- param: end_date DATE = NULL -- last day included; NULL: no upper bound
-- param: api VARCHAR = NULL in COPILOT_APIS -- only this API generation; NULL: all
-- param: scope_id VARCHAR = NULL in copilot_daily.scope_id -- only this organisation / enterprise; NULL: all
-- column: api VARCHAR -- API generation the rows came from
-- column: scope VARCHAR -- organization, enterprise, team or unknown
-- column: scope_id VARCHAR -- organisation / enterprise id ('' when absent)
-- column: day DATE -- day of activity
-- column: suggestions BIGINT -- code suggestions (generations)
-- column: acceptances BIGINT -- code acceptances
-- column: acceptance_rate DOUBLE -- acceptances ÷ suggestions
-- column: lines_suggested BIGINT -- lines suggested
-- column: lines_accepted BIGINT -- lines accepted
-- column: line_acceptance_rate DOUBLE -- lines_accepted ÷ lines_suggested
-- column: active_users BIGINT -- distinct active users, as reported
-- column: engaged_users BIGINT -- distinct engaged users, as reported
-- column: interactions BIGINT -- user-initiated interactions
-- column: chats BIGINT -- chat turns

SELECT
    c.api,
    c.scope,
    c.scope_id,
    c.day,
    c.suggestions,
    c.acceptances,
    CAST(c.acceptances AS DOUBLE) / NULLIF(c.suggestions, 0) AS acceptance_rate,
    c.lines_suggested,
    c.lines_accepted,
    CAST(c.lines_accepted AS DOUBLE) / NULLIF(c.lines_suggested, 0) AS line_acceptance_rate,
    c.active_users,
    c.engaged_users,
    c.interactions,
    c.chats
FROM copilot_daily AS c
WHERE c.breakdown = 'total'
    AND ($start_date IS NULL OR c.day >= $start_date)
    AND ($end_date IS NULL OR c.day <= $end_date)
    AND ($api IS NULL OR c.api = $api)
    AND ($scope_id IS NULL OR c.scope_id = $scope_id)
ORDER BY c.api, c.scope, c.scope_id, c.day
