-- The events of the run's weeks, with the ISO week label and the after-hours flag in the
-- reporting time zone. `ft_week` and `ft_after_hours` are registered by the pipeline runner
-- (see [pipelines] in fingertip.toml); the runner also limits the scan to the run's dates
-- and key epochs.
SELECT
    person,
    app_id,
    org_unit,
    event_type,
    trigger,
    duration_s,
    data_elements,
    started_at,
    ft_week(started_at) AS week,
    ft_after_hours(started_at) AS after_hours
FROM events
