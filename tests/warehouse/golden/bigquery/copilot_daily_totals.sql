SELECT
  c.api,
  c.scope,
  c.scope_id,
  c.day,
  c.suggestions,
  c.acceptances,
  CAST(c.acceptances AS FLOAT64) / NULLIF(c.suggestions, 0) AS acceptance_rate,
  c.lines_suggested,
  c.lines_accepted,
  CAST(c.lines_accepted AS FLOAT64) / NULLIF(c.lines_suggested, 0) AS line_acceptance_rate,
  c.active_users,
  c.engaged_users,
  c.interactions,
  c.chats
FROM copilot_daily AS c
WHERE
  c.breakdown = 'total'
  AND (
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
ORDER BY
  c.api NULLS LAST,
  c.scope NULLS LAST,
  c.scope_id NULLS LAST,
  c.day NULLS LAST
