-- DuckDB: count and checksum of the rows in `rows_to_check`, the same definition as the PostgreSQL
-- one in retention_delete_rows.sql (length-prefixed UTF-8 fields, '~' for NULL, microseconds since
-- the epoch for the timestamp, md5 per row, md5 of the row md5s in id order).
with row_digests as (
    select
        id,
        md5(
            coalesce(strlen(id)::varchar || ':' || id, '~')
            || coalesce(strlen(event_id)::varchar || ':' || event_id, '~')
            || coalesce(strlen(event_type)::varchar || ':' || event_type, '~')
            || coalesce(strlen(user_id)::varchar || ':' || user_id, '~')
            || coalesce(strlen(session_id)::varchar || ':' || session_id, '~')
            || coalesce(strlen(referrer)::varchar || ':' || referrer, '~')
            || coalesce(strlen(user_agent)::varchar || ':' || user_agent, '~')
            || coalesce(strlen(ip_address)::varchar || ':' || ip_address, '~')
            || coalesce(strlen(page_url)::varchar || ':' || page_url, '~')
            || coalesce(epoch_us("timestamp")::varchar, '~')
            || coalesce(strlen(metadata)::varchar || ':' || metadata, '~')
        ) as row_digest
    from rows_to_check
)

select
    count(*) as row_count,
    md5(coalesce(string_agg(row_digest, '' order by id), '')) as checksum
from row_digests
