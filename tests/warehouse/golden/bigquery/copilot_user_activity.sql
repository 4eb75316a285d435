WITH counts AS (
  SELECT
    c.api,
    c.scope,
    c.scope_id,
    c.day,
    COUNT(*) AS users,
    CAST(SUM(CASE WHEN c.active THEN 1 ELSE 0 END) AS INT64) AS active_users,
    CAST(SUM(CASE WHEN c.used_chat THEN 1 ELSE 0 END) AS INT64) AS chat_users,
    CAST(SUM(CASE WHEN c.used_agent THEN 1 ELSE 0 END) AS INT64) AS agent_users,
    CAST(SUM(CASE WHEN c.used_cli THEN 1 ELSE 0 END) AS INT64) AS cli_users,
    CAST(SUM(c.interactions) AS INT64) AS interactions,
    CAST(SUM(c.generations) AS INT64) AS generations,
    CAST(SUM(c.acceptances) AS INT64) AS acceptances,
    CAST(SUM(c.loc_added) AS INT64) AS loc_added,
    CAST(SUM(c.loc_deleted) AS INT64) AS loc_deleted
  FROM copilot_user_daily AS c
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
  GROUP BY
    c.api,
    c.scope,
    c.scope_id,
    c.day
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
  CAST(acceptances AS FLOAT64) / NULLIF(generations, 0) AS acceptance_rate,
  loc_added,
  loc_deleted
FROM counts
ORDER BY
  api NULLS LAST,
  scope NULLS LAST,
  scope_id NULLS LAST,
  day NULLS LAST
