-- Every change to the analytics tables names the items it touched, so that the service's caches
-- drop exactly those items (flows/invalidation.py, service/cache.py). Inside analytics_transaction
-- the items are collected in the temp table analytics_touched_items and announced once, just before
-- commit; any other writer's changes are announced here directly. NOTIFY is delivered at commit
-- and never for a rolled-back write. Statement-level triggers with transition tables: one call per
-- statement, not per row.
create or replace function note_touched_analytics_items() returns trigger
language plpgsql as $$
declare
    touched text[];
begin
    if to_regclass('pg_temp.analytics_touched_items') is not null then
        insert into analytics_touched_items (event_id)
        select distinct event_id from changed_rows
        on conflict do nothing;
        return null;
    end if;
    select array_agg(distinct event_id::text) into touched from changed_rows;
    if touched is not null then
        -- 200 ids of 36 characters stay under NOTIFY's 8000-byte payload limit.
        for chunk in 0 .. (array_length(touched, 1) - 1) / 200 loop
            perform pg_notify('analytics_invalidate', 'items ' || array_to_string(touched[chunk * 200 + 1 : chunk * 200 + 200], ' '));
        end loop;
    end if;
    return null;
end
$$;

drop trigger if exists event_analytics_touched_by_insert on event_analytics;
create trigger event_analytics_touched_by_insert after insert on event_analytics
    referencing new table as changed_rows for each statement execute function note_touched_analytics_items();
drop trigger if exists event_analytics_touched_by_update on event_analytics;
create trigger event_analytics_touched_by_update after update on event_analytics
    referencing new table as changed_rows for each statement execute function note_touched_analytics_items();
drop trigger if exists event_analytics_touched_by_delete on event_analytics;
create trigger event_analytics_touched_by_delete after delete on event_analytics
    referencing old table as changed_rows for each statement execute function note_touched_analytics_items();

drop trigger if exists event_analytics_summary_touched_by_insert on event_analytics_summary;
create trigger event_analytics_summary_touched_by_insert after insert on event_analytics_summary
    referencing new table as changed_rows for each statement execute function note_touched_analytics_items();
drop trigger if exists event_analytics_summary_touched_by_update on event_analytics_summary;
create trigger event_analytics_summary_touched_by_update after update on event_analytics_summary
    referencing new table as changed_rows for each statement execute function note_touched_analytics_items();
drop trigger if exists event_analytics_summary_touched_by_delete on event_analytics_summary;
create trigger event_analytics_summary_touched_by_delete after delete on event_analytics_summary
    referencing old table as changed_rows for each statement execute function note_touched_analytics_items();
