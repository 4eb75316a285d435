-- name: acceptance_by_language
-- category: segmentation
-- description: Acceptance of shown suggestions by the language of the file.
--   Count-based (accepted ÷ shown, with and without partial acceptances), character- and
--   line-weighted acceptance (METHODOLOGY.md §1). Suggestions join their session (editor,
--   task type) and user (segment).
-- param: start_date DATE = NULL -- first day included (UTC date of shown_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of shown_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version; NULL: all
-- column: language VARCHAR -- language of the file
-- column: users BIGINT -- distinct users with a shown suggestion
-- column: shown BIGINT -- suggestions shown (outcome <> 'not_shown')
-- column: accepted BIGINT -- shown suggestions accepted or partially accepted
-- column: fully_accepted BIGINT -- shown suggestions accepted in full
-- column: acceptance_rate DOUBLE -- accepted ÷ shown
-- column: full_acceptance_rate DOUBLE -- fully_accepted ÷ shown
-- column: suggested_chars BIGINT -- Σ suggested_chars of shown suggestions
-- column: accepted_chars BIGINT -- Σ accepted_chars of shown suggestions
-- column: char_acceptance_rate DOUBLE -- accepted_chars ÷ suggested_chars (character-weighted)
-- column: suggested_lines BIGINT -- Σ suggested_lines of shown suggestions
-- column: accepted_lines BIGINT -- Σ accepted_lines of shown suggestions
-- column: line_acceptance_rate DOUBLE -- accepted_lines ÷ suggested_lines (line-weighted)
-- column: share_of_shown DOUBLE -- shown ÷ all shown suggestions in the result

WITH shown AS (
    SELECT
        s.language AS language,
        s.user_id,
        s.outcome,
        s.suggested_chars,
        s.accepted_chars,
        s.suggested_lines,
        s.accepted_lines
    FROM suggestions AS s
    WHERE s.outcome <> 'not_shown'
        AND ($start_date IS NULL OR CAST(s.shown_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(s.shown_at AS DATE) <= $end_date)
        AND ($language IS NULL OR s.language = $language)
        -- semi-joins, not joins: without a filter no session or user row is touched
        AND ($editor IS NULL OR s.session_id IN (
            SELECT se.session_id FROM sessions AS se WHERE se.editor = $editor
        ))
        AND ($segment IS NULL OR s.user_id IN (
            SELECT u.user_id FROM users AS u WHERE u.segment = $segment
        ))
        AND ($model_version IS NULL OR s.model_version = $model_version)
),

by_language AS (
    SELECT
        language,
        COUNT(DISTINCT user_id) AS users,
        COUNT(*) AS shown,
        CAST(SUM(CASE WHEN outcome IN ('accepted', 'partially_accepted') THEN 1 ELSE 0 END)
            AS BIGINT) AS accepted,
        CAST(SUM(CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END) AS BIGINT) AS fully_accepted,
        CAST(SUM(suggested_chars) AS BIGINT) AS suggested_chars,
        CAST(SUM(accepted_chars) AS BIGINT) AS accepted_chars,
        CAST(SUM(suggested_lines) AS BIGINT) AS suggested_lines,
        CAST(SUM(accepted_lines) AS BIGINT) AS accepted_lines
    FROM shown
    GROUP BY language
)

SELECT
    language,
    users,
    shown,
    accepted,
    fully_accepted,
    CAST(accepted AS DOUBLE) / NULLIF(shown, 0) AS acceptance_rate,
    CAST(fully_accepted AS DOUBLE) / NULLIF(shown, 0) AS full_acceptance_rate,
    suggested_chars,
    accepted_chars,
    CAST(accepted_chars AS DOUBLE) / NULLIF(suggested_chars, 0) AS char_acceptance_rate,
    suggested_lines,
    accepted_lines,
    CAST(accepted_lines AS DOUBLE) / NULLIF(suggested_lines, 0) AS line_acceptance_rate,
    CAST(shown AS DOUBLE) / SUM(shown) OVER () AS share_of_shown
FROM by_language
ORDER BY shown DESC, language
