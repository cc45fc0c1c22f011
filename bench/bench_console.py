"""Benchmark of the trader console: a goal's book published on the broker -> shown on the board (headless Chromium).

Run from the project root after `make build`:

    python -m bench.bench_console [--goals 30] [--fixtures 8]

Measures, on this machine, with the real Mosquitto (and its WebSocket bridge), the real pricing code and the
console in Debian's Chromium (the HTTP side is the contract stand-in, tests/browser/standin_api.py):
- goal to screen: from just before a goal's book is published to the moment the board has rendered it (the
  page's own data-rendered-at, epoch ms, same clock), one goal at a time, on a board of ``--fixtures``;
- a burst: 60 fixtures all repriced at once, until the last of them is on the board.
Prints a markdown table and writes bench/results/console.json. Goal (issue 5): a goal on screen within 1 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

from tests.browser.console_demo import running_console
from tests.browser.standin_api import StandInTradingApi

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 1.0


def signed_in_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(url)
    page.get_by_label("User name").fill("bench")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready='true']", timeout=120_000)
    page.wait_for_selector("#connection[data-state='live']", timeout=60_000)
    return page


def rendered_at(page: Any, fixture_id: str, revision: int) -> float:
    page.wait_for_function(
        "([id, revision]) => Number(document.querySelector(`[data-fixture-id='${id}']`)?.dataset.revision) >= revision",
        arg=[fixture_id, revision],
        timeout=60_000,
        polling="raf",
    )
    return int(page.locator(f"[data-fixture-id='{fixture_id}']").get_attribute("data-rendered-at")) / 1000


def goal_to_screen(page: Any, api: StandInTradingApi, goals: int) -> list[float]:
    rng = random.Random(5)
    samples = []
    for _ in range(goals):
        fixture_id = rng.choice(sorted(api.fixtures))
        state = api.fixtures[fixture_id].state
        book = api.feed(fixture_id, home_score=state.home_score + 1, suspension_reason="goal")
        published_at = api.publish_book(book)
        samples.append(rendered_at(page, fixture_id, book["revision"]) - published_at)
        time.sleep(0.2)  # one goal at a time: no queueing behind the previous one
    return samples


def burst(page: Any, api: StandInTradingApi) -> float:
    books = [api.feed(fixture_id, match_minute=85) for fixture_id in sorted(api.fixtures)]
    started = time.time()
    for book in books:
        api.publish_book(book)
    return max(rendered_at(page, book["fixture_id"], book["revision"]) for book in books) - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--goals", type=int, default=30)
    parser.add_argument("--fixtures", type=int, default=8)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        with running_console(fixtures=args.fixtures) as (server, api):
            samples = goal_to_screen(signed_in_page(browser, server.url), api, args.goals)
        with running_console(fixtures=60) as (server, api):
            burst_seconds = burst(signed_in_page(browser, server.url), api)
        browser.close()

    ordered = sorted(samples)
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "goals": args.goals,
        "fixtures_on_board": args.fixtures,
        "goal_to_screen_ms": {
            "median": round(statistics.median(samples) * 1000, 1),
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
            "max": round(max(samples) * 1000, 1),
        },
        "burst_60_fixtures_last_on_screen_ms": round(burst_seconds * 1000, 1),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": max(samples) < GOAL_SECONDS,
    }
    out = ROOT / "bench" / "results" / "console.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    latency = result["goal_to_screen_ms"]
    print("| measure | result | goal |\n|---|---|---|")
    print(
        f"| goal's book published -> on the board, median (p90, max) | {latency['median']} ms "
        f"({latency['p90']} ms, {latency['max']} ms) | < 1 s |"
    )
    burst_ms = result["burst_60_fixtures_last_on_screen_ms"]
    print(f"| 60 fixtures repriced at once -> the last one on the board | {burst_ms} ms | |")
    print(f"results written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
