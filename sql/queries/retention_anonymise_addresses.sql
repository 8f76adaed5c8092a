-- Cut addresses of rows older than %(before)s to their network: IPv4 to the /24, IPv6 to the /48,
-- stored as a host address (a.b.c.0). Rows already cut are left alone, so a rerun changes nothing;
-- rows dated before %(earliest)s are bad rows, kept as they are (and counted) like the rest of them.
with anonymised as (
    update event_analytics_events
    set ip_address = host(network(set_masklen(ip_address, case family(ip_address) when 4 then 24 else 48 end)))::inet
    where "timestamp" >= %(earliest)s
      and "timestamp" < %(before)s
      and ip_address is not null
      and ip_address <> host(network(set_masklen(ip_address, case family(ip_address) when 4 then 24 else 48 end)))::inet
    returning "timestamp"
)

select
    to_char("timestamp" at time zone 'UTC', 'YYYY-MM') as month,
    count(*) as rows_anonymised
from anonymised
group by 1
order by 1
