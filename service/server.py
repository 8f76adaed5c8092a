"""`analytics serve`: the service on uvicorn, against the database the flows use."""

from __future__ import annotations

import logging


def serve(host: str, port: int) -> int:
    """Run the service until interrupted; settings come from the same environment as the flows'."""
    import uvicorn

    from flows.database import mask_url, require_migrated, resolve_database
    from flows.settings import load_settings
    from service.app import create_app
    from service.settings import load_service_settings

    settings = load_settings()
    service = load_service_settings()
    db = resolve_database(settings)
    with db.connect() as conn:
        require_migrated(conn)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cache = "off" if not service.cache_enabled else ("redis" if service.redis_url else "in-process")
    print(f"serving {mask_url(db.url)} on http://{host}:{port} (cache: {cache}; docs at /docs, health at /health)", flush=True)
    uvicorn.run(create_app(db, service), host=host, port=port, log_level="warning", access_log=False)
    return 0
