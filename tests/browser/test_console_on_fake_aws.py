"""The console in AWS mode (Cognito sign-in, IoT Core over a presigned WebSocket) against FAKES of those services.

Cognito, ``POST /v1/realtime/session`` and AWS IoT Core are fakes answered by Playwright's interception
(``fake_aws.py``): they let a test expire a token, fail a session request or drop the IoT connection, which the
real services do only now and then. The trader and query APIs are the stand-in (``standin_api.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.logic.iot_topics import price_topic
from local_engine.console_server import ConsoleServer
from stacks.constants import IOT_PRICE_TOPIC_PREFIX
from tests.browser.conftest import ARS_CHE, VIEWPORT, card, console_tab, wait_for_revision, wait_ready
from tests.browser.fake_aws import IDENTITY_ID, FakeAws, aws_config
from tests.browser.standin_api import StandInTradingApi, fixture_state

IOT_CLIENT_ID_MAX_LENGTH = 128  # AWS IoT Core quota for an MQTT client id


@pytest.fixture
def fake_aws(trading_api: StandInTradingApi) -> FakeAws:
    return FakeAws(trading_api)


@pytest.fixture
def aws_console(console_site: Path, trading_api: StandInTradingApi) -> Iterator[ConsoleServer]:
    with ConsoleServer(console_site, aws_config(trading_api)) as server:
        yield server


@pytest.fixture
def context(browser: Any, fake_aws: FakeAws) -> Iterator[Any]:
    opened = browser.new_context(viewport=VIEWPORT)
    fake_aws.install(opened)
    yield opened
    opened.close()


@pytest.fixture
def page(context: Any, aws_console: ConsoleServer) -> Iterator[Any]:
    with console_tab(context, aws_console.url) as opened:
        yield opened


def sign_in_with_cognito(page: Any, *, wait_live: bool = True) -> None:
    """Password, then the authenticator code; wait until the board has loaded (and the feed is live)."""
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app").fill("123456")
    page.get_by_role("button", name="Verify").click()
    wait_ready(page, live=wait_live)


def wait_until(page: Any, condition: Callable[[], bool], timeout_s: float = 30) -> None:
    """Poll ``condition`` while the page runs (the fakes answer only while Playwright is waiting)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout_s} s")
        page.wait_for_timeout(100)


def publish(fake_aws: FakeAws, book: dict[str, Any]) -> None:
    assert fake_aws.iot.publish(price_topic(IOT_PRICE_TOPIC_PREFIX, book["fixture_id"]), json.dumps(book).encode())


def test_the_fixtures_load_while_the_feed_cannot_connect_and_the_feed_retries_with_growing_delays(
    page: Any, fake_aws: FakeAws, trading_api: StandInTradingApi
) -> None:
    # Given a fixture, and a realtime-session endpoint that fails three times (IoT cannot be reached without it)
    trading_api.add_fixture(fixture_state(ARS_CHE, "Arsenal", "Chelsea"))
    fake_aws.realtime_session.failures = [500, 502, 503]

    # When the trader signs in
    sign_in_with_cognito(page, wait_live=False)

    # Then the board lists the fixture while the feed is still failing, and says so
    assert card(page, ARS_CHE).get_attribute("data-revision") == "1"
    assert page.locator("#connection").get_attribute("data-state") != "live"
    assert "live prices" in page.locator("#error-text").inner_text()

    # ...and the feed keeps trying, each wait longer than the one before, until it is live
    wait_ready(page)
    attempts = fake_aws.realtime_session.requested_at
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert len(attempts) == 4, gaps
    assert min(gaps) >= 0.5 and gaps[0] < gaps[2], gaps  # 0.5-1 s, 1-2 s, 2-4 s: jittered doubling from 1 s
    assert page.locator("#error-banner").is_hidden()  # the feed's error goes once it is live again

    # ...and prices flow
    book = trading_api.feed(ARS_CHE, match_minute=20)
    publish(fake_aws, book)
    wait_for_revision(page, ARS_CHE, book["revision"])


def test_a_dropped_feed_keeps_reconnecting_through_failed_attempts_until_it_is_live(
    page: Any, fake_aws: FakeAws, trading_api: StandInTradingApi
) -> None:
    # Given a trader watching a live board
    trading_api.add_fixture(fixture_state(ARS_CHE, "Arsenal", "Chelsea"))
    sign_in_with_cognito(page)
    (first,) = fake_aws.iot.live()

    # When the network drops the IoT connection and the next two session requests fail
    fake_aws.realtime_session.failures = [503, 503]
    fake_aws.iot.drop(first)

    # Then the console shows it reconnecting, keeps trying, and is live again on a new connection
    page.wait_for_selector("#connection[data-state='reconnecting']", timeout=10_000)
    wait_ready(page)
    assert len(fake_aws.realtime_session.requested_at) == 1 + 3
    (second,) = fake_aws.iot.live()
    assert second is not first

    # ...and prices flow again
    book = trading_api.feed(ARS_CHE, match_minute=20)
    publish(fake_aws, book)
    wait_for_revision(page, ARS_CHE, book["revision"])


def test_two_tabs_of_one_trader_stay_live_side_by_side(
    context: Any, aws_console: ConsoleServer, fake_aws: FakeAws, trading_api: StandInTradingApi
) -> None:
    # Given one trader (one Cognito identity) signed in on two tabs; like IoT Core, the fake drops the older of
    # two connections with one client id
    trading_api.add_fixture(fixture_state(ARS_CHE, "Arsenal", "Chelsea"))
    with console_tab(context, aws_console.url) as first, console_tab(context, aws_console.url) as second:
        sign_in_with_cognito(first)
        sign_in_with_cognito(second)

        # When a book is published a moment later
        second.wait_for_timeout(3_000)  # long enough for a knocked-off tab to reconnect and knock off the other
        book = trading_api.feed(ARS_CHE, match_minute=20)
        publish(fake_aws, book)

        # Then each tab connected once, as its own client under the trader's identity, and both show the book
        client_ids = [c.client_id for c in fake_aws.iot.connections]
        assert len(client_ids) == 2 and len(set(client_ids)) == 2, client_ids
        for client_id in client_ids:
            assert client_id and client_id.startswith(f"{IDENTITY_ID}-") and len(client_id) < IOT_CLIENT_ID_MAX_LENGTH
        for tab in (first, second):
            wait_for_revision(tab, ARS_CHE, book["revision"])
            assert tab.locator("#connection").get_attribute("data-state") == "live"


def test_a_command_refused_for_an_expired_token_is_sent_once_more_with_a_refreshed_token(
    page: Any, fake_aws: FakeAws, trading_api: StandInTradingApi
) -> None:
    # Given a trader signed in whose ID token has since expired (the API refuses it)
    trading_api.add_fixture(fixture_state(ARS_CHE, "Arsenal", "Chelsea"))
    sign_in_with_cognito(page)
    (signed_in_token,) = fake_aws.cognito.id_tokens
    fake_aws.cognito.expire(signed_in_token)

    # When the trader suspends the fixture
    card(page, ARS_CHE).get_by_role("button", name="Suspend every market of this fixture").click()

    # Then the console refreshed the token with the refresh token, and the command went through, once
    wait_for_revision(page, ARS_CHE, 2)
    assert card(page, ARS_CHE).get_attribute("data-status") == "suspended"
    assert trading_api.commands == [(ARS_CHE, {"command": "suspend"})]
    assert [r["AuthParameters"]["REFRESH_TOKEN"] for r in fake_aws.cognito.refreshes()] == ["fake-refresh-token-1"]
    assert page.locator("#console").is_visible() and page.locator("#error-banner").is_hidden()


def test_the_id_token_is_refreshed_before_it_expires(
    page: Any, fake_aws: FakeAws, trading_api: StandInTradingApi
) -> None:
    # Given a trader signed in with an ID token that lasts 6 s (Cognito's last an hour); refreshed ones last an hour
    trading_api.add_fixture(fixture_state(ARS_CHE, "Arsenal", "Chelsea"))
    fake_aws.cognito.token_lifetime_s = 6
    sign_in_with_cognito(page)
    fake_aws.cognito.token_lifetime_s = 3600

    # When the token nears its end
    wait_until(page, lambda: len(fake_aws.cognito.refreshes()) == 1, timeout_s=20)
    fake_aws.cognito.expire(fake_aws.cognito.id_tokens[0])

    # Then the console already holds a fresh token: a command goes through with no refusal and no second refresh
    card(page, ARS_CHE).get_by_role("button", name="Suspend every market of this fixture").click()
    wait_for_revision(page, ARS_CHE, 2)
    assert trading_api.commands == [(ARS_CHE, {"command": "suspend"})]
    assert len(fake_aws.cognito.refreshes()) == 1
