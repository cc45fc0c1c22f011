"""The trader console for the README's screenshot (`make screenshot`), and the stand-in board the console
benchmark drives (bench/bench_console.py).

``screenshot`` runs the whole local system: the local engine (the real feed and trader-command workflows and
handlers in moto, Mosquitto with its WebSocket bridge), the local gateway and the console server, as
`make console` does. Eight sample matches are played part-way through the feed workflow, a trader signs in and
suspends a market through the trader API, and the next feed events reprice the board while it is captured.

``running_console`` serves the page against the contract STAND-IN for the trader and query APIs
(``standin_api.py``), whose books are priced by the real pricing code and published straight to Mosquitto: the
benchmark measures the page, not the workflows.

    python -m tests.browser.console_demo screenshot docs/images/trader-console.png
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from local_engine.console_server import PROJECT_ROOT, ConsoleServer, build_site, local_config
from local_engine.mqtt import MosquittoBroker
from tests.browser.standin_api import StandInTradingApi, sample_fixtures

SCREENSHOT_VIEWPORT = {"width": 1680, "height": 1050}
SCREENSHOT_FIXTURES = 8
# How far into the sample feed the board is captured: every match kicked off, some goals in.
SCREENSHOT_FEED_SHARE = 0.3


@contextlib.contextmanager
def running_console(*, fixtures: int, port: int = 0) -> Iterator[tuple[ConsoleServer, StandInTradingApi]]:
    broker = MosquittoBroker().start()
    try:
        with StandInTradingApi(broker_port=broker.port) as api:
            for state in sample_fixtures(fixtures):
                api.add_fixture(state)
            config = local_config(
                trader_api_url=api.url,
                query_api_url=api.url,
                websocket_url=f"ws://127.0.0.1:{broker.websocket_port}",
            )
            with ConsoleServer(build_site(PROJECT_ROOT / ".build" / "console"), config, port=port) as server:
                yield server, api
    finally:
        broker.stop()


def screenshot(path: Path, assembly: Path) -> None:
    """A board of eight matches in play, one market suspended by a trader, prices just repriced by the feed."""
    from playwright.sync_api import expect, sync_playwright

    from local_engine.engine import LocalEngine
    from local_engine.gateway import LocalGateway
    from local_engine.sample_feed import FeedFaults, sample_feed
    from local_engine.session import quiet_libraries
    from tests.browser.conftest import launch_chromium

    quiet_libraries()
    feed = sample_feed(fixtures=SCREENSHOT_FIXTURES, faults=FeedFaults(duplicates=0, reordered=0, malformed=0))
    played = int(len(feed) * SCREENSHOT_FEED_SHARE)
    with LocalEngine(assembly, concurrency=4) as engine, LocalGateway(engine) as gateway:
        assert engine.broker is not None
        for event in feed[:played]:
            engine.run(event)
        config = local_config(
            trader_api_url="/v1", query_api_url="/v1", websocket_url=f"ws://127.0.0.1:{engine.broker.websocket_port}"
        )
        site = build_site(PROJECT_ROOT / ".build" / "console")
        with (
            ConsoleServer(site, config, api_upstream=gateway.url) as server,
            sync_playwright() as playwright,
        ):
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport=SCREENSHOT_VIEWPORT, device_scale_factor=1)
            page.goto(server.url)
            page.get_by_label("User name").fill("alice")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_selector("body[data-ready='true']")
            page.wait_for_selector("#connection[data-state='live']")
            # A trader suspends one fixture's total-goals markets through the trader API (the real workflow).
            card = page.locator("[data-fixture-id][data-status='open']").nth(1)
            total_goals = card.locator(".market-group[data-market-type='total_goals']")
            total_goals.get_by_role("button", name="Suspend Total goals").click()
            expect(total_goals).to_have_attribute("data-status", "suspended")
            page.evaluate("document.activeElement && document.activeElement.blur()")
            page.mouse.move(0, 0)
            # The next feed events reprice their fixtures; a changed price stays highlighted for two seconds.
            for event in feed[played : played + SCREENSHOT_FIXTURES * 2]:
                engine.run(event)
            page.wait_for_function("document.querySelectorAll('.price-up, .price-down').length >= 20", timeout=5000)
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path))
            browser.close()
    print(f"screenshot written to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    shot = commands.add_parser("screenshot", help="write a PNG of a live board on the local engine")
    shot.add_argument("path", type=Path)
    shot.add_argument("--assembly", type=Path, default=PROJECT_ROOT / "cdk.out")
    args = parser.parse_args(argv)
    screenshot(args.path, args.assembly)


if __name__ == "__main__":
    main()
