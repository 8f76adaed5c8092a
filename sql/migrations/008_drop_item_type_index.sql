-- idx_event_analytics_item_type_start (event_id, period_type, period_start), added by 001 in place of
-- the plan's idx_event_analytics_event_id, duplicates the plan's unique key (event_id, period_start,
-- period_type) for every read the flows, the check and the service make: each of them fixes the item,
-- bounds or orders by period_start, and the key's third column filters the period type inside the
-- index. Every row written paid for the fourth index: the 330,695 result rows of a 1M-row backfill
-- COPYed in 3.92 to 4.11 s without it against 4.34 to 4.77 s with it, five runs each
-- (bench/README.md, seventh pass); the reads measured the same (`analytics check` on that history,
-- read_all_time_facts, sum_recent_hours, read_period_rows).
drop index if exists idx_event_analytics_item_type_start;
