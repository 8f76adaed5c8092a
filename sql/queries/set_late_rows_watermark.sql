insert into event_analytics_watermarks (name, position, in_progress)
values ('late_rows', %(position)s::xid8, %(in_progress)s::text[]::xid8[])
on conflict (name) do update set position = excluded.position, in_progress = excluded.in_progress, updated_at = now()
