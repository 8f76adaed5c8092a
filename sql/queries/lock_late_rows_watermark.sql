-- The late-rows watermark, locked until commit so that overlapping runs take turns.
select position::text, in_progress::text[] from event_analytics_watermarks where name = 'late_rows' for update
