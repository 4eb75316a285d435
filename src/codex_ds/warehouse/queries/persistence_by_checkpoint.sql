-- name: persistence_by_checkpoint
-- category: persistence
-- description: How much of accepted suggestions survives, at each persistence checkpoint
--   (30, 120, 300 and 600 s after acceptance; Ziegler et al. 2022): the share of checked
--   accepted suggestions that is unchanged (edit_ratio = 0), mostly unchanged (edit_ratio <
--   0.33 and not removed: edit distance under a third of the accepted length) and removed, and
--   the mean edit ratio. The denominator is the accepted suggestions checked at that delay.
-- param: start_date DATE = NULL -- first day included (UTC date of shown_at); NULL: no lower bound
-- param: end_date DATE = NULL -- last day included (UTC date of shown_at); NULL: no upper bound
-- param: language VARCHAR = NULL in LANGUAGES -- only suggestions in this language; NULL: all
-- param: editor VARCHAR = NULL in EDITORS -- only sessions in this editor; NULL: all
-- param: segment VARCHAR = NULL in SEGMENTS -- only users of this segment; NULL: all
-- param: model_version VARCHAR = NULL in suggestions.model_version -- only this model version; NULL: all
-- column: check_after_s INTEGER -- delay after acceptance, in seconds
-- column: checked BIGINT -- accepted suggestions checked at this delay
-- column: unchanged BIGINT -- of which edit_ratio = 0
-- column: unchanged_share DOUBLE -- unchanged ÷ checked
-- column: mostly_unchanged BIGINT -- of which edit_ratio < 0.33 and not removed
-- column: mostly_unchanged_share DOUBLE -- mostly_unchanged ÷ checked
-- column: removed BIGINT -- of which the accepted text was deleted entirely
-- column: removed_share DOUBLE -- removed ÷ checked
-- column: mean_edit_ratio DOUBLE -- mean edit_ratio

WITH checks AS (
    SELECT
        p.check_after_s,
        p.edit_ratio,
        p.removed
    FROM persistence AS p
    INNER JOIN suggestions AS s ON s.suggestion_id = p.suggestion_id
    INNER JOIN sessions AS se ON se.session_id = s.session_id
    INNER JOIN users AS u ON u.user_id = s.user_id
    WHERE s.outcome IN ('accepted', 'partially_accepted')
        AND ($start_date IS NULL OR CAST(s.shown_at AS DATE) >= $start_date)
        AND ($end_date IS NULL OR CAST(s.shown_at AS DATE) <= $end_date)
        AND ($language IS NULL OR s.language = $language)
        AND ($editor IS NULL OR se.editor = $editor)
        AND ($segment IS NULL OR u.segment = $segment)
        AND ($model_version IS NULL OR s.model_version = $model_version)
),

counts AS (
    SELECT
        check_after_s,
        COUNT(*) AS checked,
        CAST(SUM(CASE WHEN edit_ratio = 0 THEN 1 ELSE 0 END) AS BIGINT) AS unchanged,
        CAST(SUM(CASE WHEN edit_ratio < 0.33 AND NOT removed THEN 1 ELSE 0 END) AS BIGINT)
            AS mostly_unchanged,
        CAST(SUM(CASE WHEN removed THEN 1 ELSE 0 END) AS BIGINT) AS removed,
        AVG(edit_ratio) AS mean_edit_ratio
    FROM checks
    GROUP BY check_after_s
)

SELECT
    CAST(check_after_s AS INTEGER) AS check_after_s,
    checked,
    unchanged,
    CAST(unchanged AS DOUBLE) / NULLIF(checked, 0) AS unchanged_share,
    mostly_unchanged,
    CAST(mostly_unchanged AS DOUBLE) / NULLIF(checked, 0) AS mostly_unchanged_share,
    removed,
    CAST(removed AS DOUBLE) / NULLIF(checked, 0) AS removed_share,
    mean_edit_ratio
FROM counts
ORDER BY check_after_s
