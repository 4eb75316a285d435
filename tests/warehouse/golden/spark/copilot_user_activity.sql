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
  WHERE
    (
      :start_date IS NULL OR c.day >= :start_date
    )
    AND (
      :end_date IS NULL OR c.day <= :end_date
    )
    AND (
      :api IS NULL OR c.api = :api
    )
    AND (
      :scope_id IS NULL OR c.scope_id = :scope_id
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
  CAST(acceptances AS DOUBLE) / NULLIF(generations, 0) AS acceptance_rate,
  loc_added,
  loc_deleted
FROM counts
ORDER BY
  api NULLS LAST,
  scope NULLS LAST,
  scope_id NULLS LAST,
  day NULLS LAST
