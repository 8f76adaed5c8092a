-- Delete the archived rows of [$1, $2) listed in retention_archived_ids and return their count
-- and checksum, computed exactly as flows/archive.py computes it over Parquet rows: each field is
-- length-prefixed text ('~' for NULL), each row an md5, the checksum the md5 of the row md5s in id
-- order. The caller commits only when both equal what the archive holds.
with deleted as (
    delete from event_analytics_events as e
    using retention_archived_ids as a
    where e.id = a.id::uuid
      and e."timestamp" >= $1
      and e."timestamp" < $2
    returning e.*
),

row_digests as (
    select
        id,
        md5(
            coalesce(octet_length(id::text)::text || ':' || id::text, '~')
            || coalesce(octet_length(event_id::text)::text || ':' || event_id::text, '~')
            || coalesce(octet_length(event_type)::text || ':' || event_type, '~')
            || coalesce(octet_length(user_id::text)::text || ':' || user_id::text, '~')
            || coalesce(octet_length(session_id)::text || ':' || session_id, '~')
            || coalesce(octet_length(referrer)::text || ':' || referrer, '~')
            || coalesce(octet_length(user_agent)::text || ':' || user_agent, '~')
            || coalesce(octet_length(abbrev(ip_address))::text || ':' || abbrev(ip_address), '~')
            || coalesce(octet_length(page_url)::text || ':' || page_url, '~')
            || coalesce(((extract(epoch from "timestamp") * 1000000)::bigint)::text, '~')
            || coalesce(octet_length(metadata::text)::text || ':' || metadata::text, '~')
        ) as row_digest
    from deleted
)

select
    count(*) as rows_deleted,
    md5(coalesce(string_agg(row_digest, '' order by id), '')) as checksum
from row_digests
