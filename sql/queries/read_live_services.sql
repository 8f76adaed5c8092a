-- Services listening for invalidations on this database: they name their listening connection
-- 'analytics-serve:<instance>' only once its LISTEN is in force.
select application_name from pg_stat_activity
where datname = current_database()
  and starts_with(application_name, 'analytics-serve:')
  and pid <> pg_backend_pid()
