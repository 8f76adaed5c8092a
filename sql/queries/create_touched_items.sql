-- The items this transaction's writes touch (filled by note_touched_analytics_items, migration 004).
create temp table if not exists analytics_touched_items (event_id uuid primary key) on commit drop
