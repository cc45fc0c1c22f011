"""The trader console against the real thing: the local engine (the deployed workflows and handlers in moto), the
local gateway serving the synthesized trader and query APIs, and the engine's Mosquitto.

The page calls its APIs on its own origin (``/v1/...``), forwarded to the gateway as CloudFront forwards the
deployed page's ``/v1/*`` to the trader API. Feed events run through the feed workflow; commands through the
trader-command workflow; books reach the browser through SNS, the IoT bridge Lambda and MQTT.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_engine.console_server import PRICE_TOPIC_FILTER, ConsoleServer, local_config
from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from local_engine.session import quiet_libraries
from tests.browser.conftest import CONSOLE_CLIENT_PREFIX, card, sign_in, wait_for_revision
from tests.browser.test_trader_console import selection
from tests.e2e.conftest import match_events
from tests.synth import SynthesizedApp

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(dev_app: SynthesizedApp) -> Iterator[LocalEngine]:
    quiet_libraries()
    with LocalEngine(dev_app.outdir, concurrency=4) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        yield running


@pytest.fixture
def console(console_site: Path, engine: LocalEngine, gateway: LocalGateway) -> Iterator[ConsoleServer]:
    assert engine.broker is not None
    config = local_config(
        trader_api_url="/v1", query_api_url="/v1", websocket_url=f"ws://127.0.0.1:{engine.broker.websocket_port}"
    )
    with ConsoleServer(console_site, config, api_upstream=gateway.url) as server:
        yield server


def _play(engine: LocalEngine, fixture_id: str, through_sequence: int) -> None:
    for event in match_events(fixture_id)[:through_sequence]:
        assert engine.run(event).kind == "applied", event


def _fixture_item(engine: LocalEngine, fixture_id: str) -> dict[str, Any]:
    return engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]


def test_a_goal_from_the_feed_reprices_the_board_within_one_second(engine: LocalEngine, page: Any) -> None:
    # Given a match in play on the board (created, kicked off, a clock tick: three books)
    fixture_id = "BROWSER-GOAL"
    _play(engine, fixture_id, 3)
    sign_in(page)
    wait_for_revision(page, fixture_id, 3)
    home_win = selection(page, fixture_id, "match_result", "home")
    price_before = float(home_win.get_attribute("data-price"))

    # When the feed's goal event runs through the workflow (validate, apply, price, store, publish, bridge, MQTT)
    goal = match_events(fixture_id)[3]
    assert goal["type"] == "goal" and goal["team"] == "home"
    fed_at = time.time()
    assert engine.run(goal).kind == "applied"
    wait_for_revision(page, fixture_id, 4)

    # Then the board shows the goal and the repriced book within a second of the feed event
    board = card(page, fixture_id)
    feed_to_screen = int(board.get_attribute("data-rendered-at")) / 1000 - fed_at
    print(f"\nfeed goal event -> rendered on the board: {feed_to_screen * 1000:.1f} ms")
    assert 0 <= feed_to_screen < 1.0
    assert board.locator(".score").inner_text() == "1 – 0"
    assert float(home_win.get_attribute("data-price")) < price_before


def test_b_a_suspend_click_suspends_the_market_on_the_board_and_in_dynamodb(engine: LocalEngine, page: Any) -> None:
    # Given an open total-goals market on the board
    fixture_id = "BROWSER-SUSPEND"
    _play(engine, fixture_id, 3)
    sign_in(page, "bob")
    wait_for_revision(page, fixture_id, 3)
    group = card(page, fixture_id).locator(".market-group[data-market-type='total_goals']")
    assert group.get_attribute("data-status") == "open"

    # When the trader clicks its suspend button (the trader API, the trader-command workflow, SNS, MQTT)
    group.get_by_role("button", name="Suspend Total goals").click()
    wait_for_revision(page, fixture_id, 4)

    # Then the board shows it suspended, DynamoDB holds the setting, and the audit names the trader
    assert group.get_attribute("data-status") == "suspended"
    assert _fixture_item(engine, fixture_id)["suspended_market_types"] == {"SS": ["total_goals"]}
    actions = engine.client("dynamodb").query(
        TableName=engine.table_name("TraderActions"),
        KeyConditionExpression="fixture_id = :f",
        ExpressionAttributeValues={":f": {"S": fixture_id}},
    )["Items"]
    assert [json.loads(a["actor"]["S"])["username"] for a in actions if a["outcome"]["S"] == "applied"] == ["bob"]
    assert card(page, fixture_id).locator(".market-group[data-market-type='match_result']").get_attribute(
        "data-status"
    ) == ("open")


def test_c_sixty_live_fixtures_take_exactly_one_mqtt_subscription(engine: LocalEngine, page: Any) -> None:
    # Given 60 live fixtures, each with its books published through the workflow
    fixture_ids = [f"BROWSER-SIXTY-{n:02d}" for n in range(60)]
    for fixture_id in fixture_ids:
        _play(engine, fixture_id, 2)
    assert engine.broker is not None
    subscribed_before = len(engine.broker.subscriptions())

    # When the console signs in and every fixture moves on (a clock tick each)
    sign_in(page)
    for fixture_id in fixture_ids:
        assert engine.run(match_events(fixture_id)[2]).kind == "applied"
    for fixture_id in fixture_ids:
        wait_for_revision(page, fixture_id, 3)

    # Then the broker saw this console subscribe once, to the one wildcard filter, and nothing else
    console_subscriptions = [
        s for s in engine.broker.subscriptions()[subscribed_before:] if s.client_id.startswith(CONSOLE_CLIENT_PREFIX)
    ]
    assert len(console_subscriptions) == 1, console_subscriptions
    assert console_subscriptions[0].topic_filter == PRICE_TOPIC_FILTER
    assert all(card(page, fixture_id).count() == 1 for fixture_id in fixture_ids)


def test_d_a_rejected_margin_names_the_field_and_changes_nothing(engine: LocalEngine, page: Any) -> None:
    fixture_id = "BROWSER-MARGIN"
    _play(engine, fixture_id, 3)
    sign_in(page)
    wait_for_revision(page, fixture_id, 3)
    before = _fixture_item(engine, fixture_id)

    group = card(page, fixture_id).locator(".market-group[data-market-type='match_result']")
    group.get_by_label("Margin %").fill("95")
    group.get_by_role("button", name="Set the Match result margin").click()

    # (the CheckTraderCommand Lambda words the message, naming the field; the console shows it as it comes)
    banner = page.get_by_role("alert").filter(has_text="margin")
    banner.wait_for()
    assert "margin: Input should be less than or equal to 0.5" in banner.inner_text()
    assert _fixture_item(engine, fixture_id) == before
