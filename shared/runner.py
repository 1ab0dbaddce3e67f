"""Running one service process: ``python -m services.<name>``."""

from __future__ import annotations

import logging
import socket

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
    config = uvicorn.Config(
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
    server = uvicorn.Server(config)
    if settings.reuse_port:
        server.run(sockets=[shared_port(settings.host, port)])
    else:
        server.run()


def shared_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` beside the other instances of the service: the kernel
    gives each new connection to one of the instances listening (SO_REUSEPORT). Bound, not
    yet listening: uvicorn listens once the application has started, so no connection waits
    on an instance that cannot answer yet."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock
