-- Rows per UTC month whose address retention_anonymise_addresses.sql would cut (the dry run).
select
    to_char("timestamp" at time zone 'UTC', 'YYYY-MM') as month,
    count(*) as rows_to_anonymise
from event_analytics_events
where "timestamp" >= %(earliest)s
  and "timestamp" < %(before)s
  and ip_address is not null
  and ip_address <> host(network(set_masklen(ip_address, case family(ip_address) when 4 then 24 else 48 end)))::inet
group by 1
order by 1
