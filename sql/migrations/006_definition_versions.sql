-- The version of the metric definitions each row was computed with (transforms/definitions.py).
-- Added without a default, so no rewrite: rows written before stay NULL, which counts as stale.
alter table event_analytics add column if not exists definitions_version text;
alter table event_analytics_summary add column if not exists definitions_version text;
