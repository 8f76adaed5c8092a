-- Every write adds hours to the all-time visitors it saw again (add_visitor_hours.sql): with room
-- left on each page, that update stays on the row's page and adds no index entry (a HOT update).
-- Pages written from now on keep 30 % free; no rewrite of existing pages.
alter table event_analytics_visitors set (fillfactor = 70);
