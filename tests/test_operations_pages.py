"""What every service serves for people who operate it, whatever its routes: the API
documentation works without internet (its scripts and styles come from the package), and
``/metrics`` answers in the Prometheus format with every family of the backbone.

The services are built but not started: these pages need no NATS and no database."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from relais.rebuild import load_spec
from shared.config import SERVICES, Settings
from shared.service import create_app
from tests.test_case_trace import FAMILIES


class _References(HTMLParser):
    """Every address a page makes the browser load or follow."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.found.append(value)

    def handle_data(self, data: str) -> None:
        # Addresses written in the page's script (SwaggerUIBundle({url: ...})).
        self.found += re.findall(r"""(?:url|href|src)\s*[:=]\s*['"]([^'"]+)['"]""", data)


@pytest.mark.parametrize("service", SERVICES)
async def test_docs_load_everything_from_the_service_itself(service: str, tmp_path: Path) -> None:
    app = create_app(load_spec(service), Settings(data_dir=tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for page in ("/docs", "/redoc"):
            answer = await client.get(page)
            assert answer.status_code == 200, page
            html = answer.text
            assert "cdn." not in html and "fonts.googleapis" not in html, page
            parser = _References()
            parser.feed(html)
            assert len(parser.found) >= 2, (page, parser.found)  # a script, and the document
            for ref in parser.found:
                assert not re.match(r"^[a-z]+:|^//", ref), f"{page} loads {ref} from elsewhere"
                asset = await client.get(urljoin(f"http://svc{page}", ref))
                assert asset.status_code == 200, (page, ref)
                assert len(asset.content) > 100, (page, ref)
        document = (await client.get("/openapi.json")).json()
        assert document["info"]["title"] == app.title

        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        for family in FAMILIES:
            assert f"# TYPE {family} " in metrics.text, family
