-- Backfills resume where they stopped: each chunk written is recorded with the backfill it belongs to.
create table if not exists event_analytics_backfills (
    backfill_id uuid primary key default gen_random_uuid(),
    -- The same parameters give the same key; an unfinished backfill with that key is resumed.
    parameters_key text not null,
    parameters jsonb not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz
);
create index if not exists idx_backfills_key on event_analytics_backfills (parameters_key) where finished_at is null;

create table if not exists event_analytics_backfill_chunks (
    backfill_id uuid not null references event_analytics_backfills (backfill_id) on delete cascade,
    chunk_start timestamptz not null,
    chunk_end timestamptz not null,
    completed_at timestamptz not null default now(),
    figures jsonb not null default '{}'::jsonb,
    primary key (backfill_id, chunk_start)
);
