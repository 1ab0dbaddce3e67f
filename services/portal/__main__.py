import logging

import uvicorn

from services.portal.service import create_portal
from shared.config import PORTAL, get_settings

settings = get_settings()
logging.basicConfig(
    level=settings.log_level.upper(),
    format="%(asctime)s portal %(levelname)s %(name)s: %(message)s",
)
uvicorn.run(
    create_portal(settings),
    host=settings.host,
    port=settings.port or settings.port_for(PORTAL),
    log_level=settings.log_level.lower(),
    # Access logs print paths and query strings: a type-ahead may hold a child's name.
    access_log=False,
)
