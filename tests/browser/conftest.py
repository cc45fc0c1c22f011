"""Browser tier: the trader console in headless Chromium (Playwright), against a real Mosquitto broker.

The HTTP side is ONE fixture, ``trading_api``: today the contract stand-in (``standin_api.py``), to be replaced
by the local gateway serving the real trader and query APIs over the local engine. Everything else is real:
the page and its MQTT bundle as deployed (``local_engine.console_server.build_site``), Mosquitto's websockets
listener (``local_engine.mqtt``), books priced by the real pricing code, Debian's Chromium.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from local_engine.console_server import ConsoleServer, build_site, local_config
from local_engine.mqtt import MosquittoBroker
from tests.browser.standin_api import StandInTradingApi

# Debian's chromium (make system-packages); Playwright's own browser download is never used.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONSOLE_CLIENT_PREFIX = "trader-console-"  # realtime.js: local mode's MQTT client id


def launch_chromium(playwright: Any) -> Any:
    executable = shutil.which("chromium") or str(CHROMIUM)
    if not Path(executable).exists():
        raise RuntimeError("chromium is not installed: `make system-packages` installs Debian's chromium")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("console") / "site")


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A broker per test, logging every SUBSCRIBE: the broker's own account of the page's subscriptions."""
    running = MosquittoBroker(log_subscriptions=True).start()
    yield running
    running.stop()


@pytest.fixture
def trading_api(broker: MosquittoBroker) -> Iterator[StandInTradingApi]:
    """The trader and query APIs (stand-in: see standin_api.py), publishing books on ``broker``."""
    with StandInTradingApi(broker_port=broker.port) as api:
        yield api


@pytest.fixture
def console(console_site: Path, trading_api: StandInTradingApi, broker: MosquittoBroker) -> Iterator[ConsoleServer]:
    config = local_config(
        trader_api_url=trading_api.url,
        query_api_url=trading_api.url,
        websocket_url=f"ws://127.0.0.1:{broker.websocket_port}",
    )
    with ConsoleServer(console_site, config) as server:
        yield server


VIEWPORT = {"width": 1600, "height": 1000}


@contextmanager
def console_tab(context: Any, url: str) -> Iterator[Any]:
    """A tab of ``context`` on the console; it fails the test if the page threw an uncaught error."""
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(url)
    yield opened
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser: Any, console: ConsoleServer) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        with console_tab(context, console.url) as opened:
            yield opened
    finally:
        context.close()


# Generous: CI machines are shared, and a board of 60 fixtures loads 60 books over HTTP before it is ready.
READY_TIMEOUT_MS = 60_000


def sign_in(page: Any, username: str = "alice") -> None:
    """Sign in through the form and wait until the board has loaded every fixture's book and the feed is live."""
    page.get_by_label("User name").fill(username)
    page.get_by_role("button", name="Sign in").click()
    wait_ready(page)


def wait_ready(page: Any, *, live: bool = True) -> None:
    """Wait until the board has loaded every fixture's book and, if ``live``, the feed is live."""
    page.wait_for_selector("body[data-ready='true']", timeout=READY_TIMEOUT_MS)
    if live:
        page.wait_for_selector("#connection[data-state='live']", timeout=READY_TIMEOUT_MS)


ARS_CHE = "EPL-2026-ARS-CHE"


def card(page: Any, fixture_id: str) -> Any:
    return page.locator(f"article.fixture[data-fixture-id='{fixture_id}']")


def wait_for_revision(page: Any, fixture_id: str, revision: int, timeout_ms: int = 30_000) -> None:
    page.wait_for_function(
        "([id, revision]) => Number(document.querySelector(`[data-fixture-id='${id}']`)?.dataset.revision) >= revision",
        arg=[fixture_id, revision],
        timeout=timeout_ms,
        polling="raf",
    )
