-- The summary's columns and types: an unknown item's answer has them all, zero or empty.
select column_name, data_type from information_schema.columns
where table_schema = current_schema() and table_name = 'event_analytics_summary'
order by ordinal_position
