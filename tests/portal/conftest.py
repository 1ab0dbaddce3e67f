"""The portal's browser tests: Debian's chromium (installed here when missing) driven by
Playwright, one browser for the whole session; one system (NATS, PostgreSQL, the services,
the portal) for the whole package (each module uses agencies and addresses of its own; the
OpenID Connect module starts its own, configured for its provider). Every screen a test
visits is photographed into ``tests/artifacts/screenshots/``, checked with axe-core (no
serious or critical violation), checked for width at 360 px, and weighed; the figures are
printed at the end of the run."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright, expect

from tests.portal.system import System

# What a screen is expected to show, it may take as long to show as an action may take
# (the context's default below): on a loaded 2-core machine a search answered in more than
# the 5 s Playwright waits by default.
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTH = 360
MAX_KB = 100.0
FIGURES: list[dict[str, Any]] = []


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        # Playwright's own browser download cannot reach its host here: Debian's package.
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True)
        found = shutil.which("chromium")
    assert found is not None, "chromium could not be installed"
    return found


@pytest.fixture(scope="session")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="package")
async def system(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[System]:
    started = System(tmp_path_factory.mktemp("portal-system"), pg_server_url)
    try:
        yield await started.start()
    finally:
        await started.stop()


@dataclass
class Screen:
    """One person's browser (a context of its own: cookies, cache) on the portal."""

    page: Page
    test: str
    figures: list[dict[str, Any]] = field(default_factory=list)
    shots: int = 0
    _requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        def finished(request: Request) -> None:
            # A screen weighs what its last page load transferred: a new document in the main
            # frame starts the count again (a form's POST and the page it leads to are two).
            if request.resource_type == "document" and request.frame == self.page.main_frame:
                self._requests.clear()
            self._requests.append(request)

        self.page.on("requestfinished", finished)

    async def seen(self, name: str, *, weigh: bool = True) -> dict[str, Any]:
        """The screen as it is now: screenshot, axe-core, width at 360 px, and the bytes the
        navigation that showed it transferred (its assets already cached)."""
        page = self.page
        await page.wait_for_load_state("load")
        self.shots += 1
        folder = SCREENSHOTS / self.test
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.shots:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
            " help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        grave = [v for v in result if v["impact"] in ("serious", "critical")]
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        transferred = 0
        for request in self._requests:
            sizes = await request.sizes()
            transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        self._requests.clear()
        figure = {
            "test": self.test,
            "screen": name,
            "kb": round(transferred / 1024, 1),
            "axe_serious_or_critical": len(grave),
            "axe_minor_or_moderate": len(result) - len(grave),
            "width": width,
            "screenshot": str(path.relative_to(ROOT)),
        }
        FIGURES.append(figure)
        assert not grave, f"{name}: axe-core found {json.dumps(grave, indent=1)}"
        assert width <= WIDTH, f"{name}: {width} px wide at {WIDTH} px"
        if weigh:
            assert transferred <= MAX_KB * 1024, f"{name}: {figure['kb']} KB transferred"
        return figure

    def forget_traffic(self) -> None:
        self._requests.clear()


async def open_screen(browser: Browser, base_url: str, test: str) -> Screen:
    context: BrowserContext = await browser.new_context(
        base_url=base_url,
        viewport={"width": WIDTH, "height": 740},
        # axe-core is injected as a script the portal's own policy would rightly refuse.
        bypass_csp=True,
        locale="fr-FR",
    )
    context.set_default_timeout(15_000)
    shutil.rmtree(SCREENSHOTS / test, ignore_errors=True)  # this run's screens only
    screen = Screen(await context.new_page(), test)
    # The first visit fetches the style sheet and htmx, cached for good afterwards: every
    # screen after it is weighed as a returning person's phone loads it.
    await screen.page.goto("/signin")
    transferred = 0
    for request in screen._requests:
        sizes = await request.sizes()
        transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    screen.forget_traffic()
    FIGURES.append(
        {
            "test": test,
            "screen": "first visit, assets included",
            "kb": round(transferred / 1024, 1),
            "axe_serious_or_critical": None,
            "axe_minor_or_moderate": None,
            "width": None,
            "screenshot": "",
        }
    )
    return screen


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("portal screens: weight, accessibility, width")
    for f in FIGURES:
        checks = (
            f"axe serious/critical {f['axe_serious_or_critical']}, minor/moderate "
            f"{f['axe_minor_or_moderate']}, {f['width']} px wide"
            if f["width"] is not None
            else "(style sheet and htmx included; cached afterwards)"
        )
        terminalreporter.write_line(
            f"{f['test'][:30]:<30} {f['screen'][:32]:<32} {f['kb']:>6.1f} KB  {checks}"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "portal-screens.json").write_text(json.dumps(FIGURES, indent=1))


@pytest.fixture
def timer() -> Any:
    class Timer:
        def __init__(self) -> None:
            self.start = time.perf_counter()

        def elapsed(self) -> float:
            return time.perf_counter() - self.start

    return Timer()
