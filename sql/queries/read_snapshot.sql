-- Where the next watermark stands: transactions from xmax on have not started yet, those in the
-- in-progress list have not ended; every other one has ended and its rows are visible now, or
-- never. And the stamp hours queued now get.
select
    pg_snapshot_xmax(snapshot.s)::text as position,
    array(select x::text from pg_snapshot_xip(snapshot.s) as x) as in_progress,
    now() as queued_at
from (select pg_current_snapshot() as s) as snapshot
