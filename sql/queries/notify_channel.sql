-- One notification per payload, delivered to the listeners when (and only if) the transaction commits.
select count(pg_notify(%(channel)s, payload)) from unnest(%(payloads)s::text[]) as payload
