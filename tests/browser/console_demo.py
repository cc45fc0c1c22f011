"""The trader console on loopback with live-moving prices: `make console` (serve) and `make screenshot`.

Runs a real Mosquitto (with its WebSocket bridge), the contract STAND-IN for the trader and query APIs
(``standin_api.py``: to be replaced by the local gateway over the local engine) and the console server.
A ticker moves the match clock of a random fixture every ``--tick`` seconds, priced by the real pricing
code and published over MQTT, so the board updates in place as it would in play.

    python -m tests.browser.console_demo serve --fixtures 12 --port 8080
    python -m tests.browser.console_demo screenshot docs/images/trader-console.png
"""

from __future__ import annotations

import argparse
import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local_engine.console_server import PROJECT_ROOT, ConsoleServer, build_site, local_config
from local_engine.mqtt import MosquittoBroker
from tests.browser.standin_api import StandInTradingApi, sample_fixtures

SCREENSHOT_VIEWPORT = {"width": 1680, "height": 1050}


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


def tick(api: StandInTradingApi, rng: random.Random) -> None:
    """One feed event on a random fixture: the clock moves on a minute, now and then a goal."""
    fixture_id = rng.choice(sorted(api.fixtures))
    state = api.fixtures[fixture_id].state
    changes: dict[str, Any] = {"match_minute": min(state.match_minute + 1, 90), "suspension_reason": None}
    if rng.random() < 0.08:
        side = rng.choice(["home", "away"])
        changes[f"{side}_score"] = getattr(state, f"{side}_score") + 1
        changes["suspension_reason"] = "goal"
    api.publish_book(api.feed(fixture_id, **changes))


def serve(fixtures: int, port: int, tick_seconds: float) -> None:
    rng = random.Random(7)
    with running_console(fixtures=fixtures, port=port) as (server, api):
        print(f"trader console: {server.url}  (sign in with any user name; stand-in APIs on {api.url})", flush=True)
        stop = threading.Event()
        try:
            while not stop.wait(tick_seconds):
                tick(api, rng)
        except KeyboardInterrupt:
            pass


def screenshot(path: Path) -> None:
    """A board of eight live fixtures just after a burst of feed events and trader commands."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import launch_chromium

    with running_console(fixtures=8) as (server, api), sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=SCREENSHOT_VIEWPORT, device_scale_factor=1)
        page.goto(server.url)
        page.get_by_label("User name").fill("alice")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("body[data-ready='true']")
        page.wait_for_selector("#connection[data-state='live']")
        ids = sorted(api.fixtures)
        # A goal (the fixture suspends until play resumes), a trader's market suspension, clock ticks.
        goal = api.fixtures[ids[1]].state
        api.publish_book(api.feed(ids[1], home_score=goal.home_score + 1, suspension_reason="goal"))
        card = page.locator(f"[data-fixture-id='{ids[2]}'] .market-group[data-market-type='total_goals']")
        card.get_by_role("button", name="Suspend Total goals").click()
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.mouse.move(0, 0)
        for fixture_id in (ids[0], ids[3], ids[4], ids[6]):
            state = api.fixtures[fixture_id].state
            api.publish_book(api.feed(fixture_id, match_minute=state.match_minute + 1))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and page.locator(".price-up, .price-down").count() < 20:
            time.sleep(0.05)
        # at once: a price change stays highlighted for two seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        browser.close()
    print(f"screenshot written to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_command = commands.add_parser("serve", help="serve the console with moving prices until Ctrl-C")
    serve_command.add_argument("--fixtures", type=int, default=12)
    serve_command.add_argument("--port", type=int, default=8080)
    serve_command.add_argument("--tick", type=float, default=1.0, help="seconds between feed events")
    shot = commands.add_parser("screenshot", help="write a PNG of a live board")
    shot.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.fixtures, args.port, args.tick)
    else:
        screenshot(args.path)


if __name__ == "__main__":
    main()
