-- Late rows of any age: each raw row records the transaction that wrote it, whoever wrote it (our
-- COPY, the platform's plain INSERTs), so each hourly run finds the rows committed since the last.
-- Cheap on a large table: the column is added without a default (existing rows stay NULL, no
-- rewrite), then given one; SET DEFAULT only changes the catalogue. Transaction ids rather than
-- a sequence or now(): with the snapshot's in-progress list, a row is found once its transaction
-- has committed, even a long one that started before the run, which a sequence or a clock cannot promise.
alter table event_analytics_events add column if not exists ingested_xid xid8;
alter table event_analytics_events alter column ingested_xid set default pg_current_xact_id();
create index if not exists idx_analytics_events_ingested on event_analytics_events (ingested_xid) where ingested_xid is not null;

-- How far the hourly runs have looked for late rows: every row of a transaction below `position`
-- has been seen, except those of the transactions still `in_progress` then (looked at again next
-- time). Set by the first hourly run.
create table if not exists event_analytics_watermarks (
    name text primary key,
    position xid8 not null,
    in_progress xid8[] not null default '{}',
    updated_at timestamptz not null default now()
);

-- Local hours that received late rows and still await their recomputation (a run takes a bounded
-- number of them, oldest first; the rest wait for the next run).
create table if not exists event_analytics_late_hours (
    hour_start timestamptz primary key,
    late_rows bigint not null default 0,
    found_at timestamptz not null default now()
);
