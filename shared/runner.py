"""Running one service process: ``python -m services.<name>``."""

from __future__ import annotations

import logging

import uvicorn

from shared import heap
from shared.config import get_settings
from shared.service import ServiceSpec, create_app


def serve(spec: ServiceSpec) -> None:
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"%(asctime)s {spec.name} %(levelname)s %(name)s: %(message)s",
    )
    port = settings.port or settings.port_for(spec.name)
    app = create_app(spec, settings)
    heap.freeze_startup()
    heap.watch_pauses()
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_level=settings.log_level.lower(),
        loop="uvloop",
        http="httptools",
        # Access logs print query strings, which may hold a child's name in a search.
        access_log=False,
        # Longer than clients keep an idle connection (httpx: 5 s, browsers: about 60 s): the
        # client closes first, so a request never races the server closing its connection
        # (an answer lost in that race is a retry the client had no reason to make).
        timeout_keep_alive=75,
    )
