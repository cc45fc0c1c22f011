"""Kafka in, SQS out, end to end: feed topic -> forwarder (a real process) -> local ingest API -> workflow
-> SNS -> the OnPremPrices queue -> outbound poller -> outbound topic. Real tansu, real HTTP, real SigV4."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest

from local_engine.engine import LocalEngine, Outcome
from local_engine.gateway import LocalGateway
from local_engine.kafka_broker import TansuBroker
from local_engine.sample_feed import FeedFaults, sample_feed
from onprem.poller import OutboundPoller
from tests.onprem.conftest import (
    OUTBOUND_TOPIC,
    ForwarderProcess,
    committed_total,
    produce_feed,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.slow

CLEAN_FEED = FeedFaults(duplicates=0.0, reordered=0.0, malformed=0.0)


def matches(prefix: str, *, fixtures: int, seed: int) -> list[dict[str, Any]]:
    """Whole sample matches, under fixture ids of the test's own (the engine is shared by the module)."""
    return [
        dict(event, fixture_id=f"{prefix}-{event['fixture_id']}", event_id=f"{prefix}-{event['event_id']}")
        for event in sample_feed(fixtures=fixtures, seed=seed, faults=CLEAN_FEED)
    ]


def outcomes_for(engine: LocalEngine, fixtures: set[str]) -> list[Outcome]:
    return [o for o in engine.outcomes if isinstance(o.event, dict) and o.event.get("fixture_id") in fixtures]


def books_for(broker: TansuBroker, fixtures: set[str], expected: Counter[tuple[str, int]]) -> list[Any]:
    """The outbound topic's records for ``fixtures``, once every expected book arrived (or a 60 s timeout)."""

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key().decode() in fixtures]

    def complete(records: list[Any]) -> bool:
        seen = {(json.loads(r.value())["fixture_id"], json.loads(r.value())["sequence"]) for r in ours(records)}
        return seen >= set(expected)

    return ours(read_topic(broker, OUTBOUND_TOPIC, until=complete))


def published(outcomes: list[Outcome]) -> Counter[tuple[str, int]]:
    return Counter((o.event["fixture_id"], o.event["sequence"]) for o in outcomes if o.final_state == "PricesPublished")


def one_book_per_published_event(books: list[Any], expected: Counter[tuple[str, int]]) -> int:
    """Assert the outbound topic carries exactly the published (fixture, sequence) pairs, one book each.

    Answers how many extra copies of a book were on the topic. A copy is the same book byte for byte: the
    workflow's PublishPrices retries on States.Timeout (3 s), and on a loaded machine moto's SNS publish can
    outlast that, so one execution can publish its book more than once (at least once, as SNS is). A book
    published by two executions would differ (generated_at): that would be a duplicate the forwarder caused.
    """
    bodies: dict[tuple[str, int], set[bytes]] = {}
    for record in books:
        book = json.loads(record.value())
        assert record.key().decode() == book["fixture_id"]
        bodies.setdefault((book["fixture_id"], book["sequence"]), set()).add(record.value())
    assert expected and max(expected.values()) == 1, "an event was published by two executions"
    assert set(bodies) == set(expected), "books missing from (or extra on) the outbound topic"
    assert all(len(distinct) == 1 for distinct in bodies.values()), "two different books for one event"
    return len(books) - len(bodies)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening yet


def test_feed_events_come_out_as_price_books_on_the_outbound_topic(
    broker: TansuBroker,
    engine: LocalEngine,
    gateway: LocalGateway,
    poller: OutboundPoller,
    forwarder: ForwarderProcess,
    feed_topic: str,
) -> None:
    # Given two whole matches on the feed topic, keyed by fixture
    events = matches("E2E-KAFKA", fixtures=2, seed=11)
    fixtures = {event["fixture_id"] for event in events}
    produce_feed(broker, feed_topic, events)

    # When the forwarder runs until it has committed every record, then is asked to stop
    started = time.monotonic()
    forwarder.start()
    group = forwarder.environment["KAFKA_GROUP_ID"]
    wait_until(lambda: http_get(f"{forwarder.health_url}/readyz")[0] == 200, timeout=60, message=forwarder.log())
    wait_until(lambda: committed_total(broker, feed_topic, group) == len(events), timeout=120, message=forwarder.log())
    forwarded_seconds = time.monotonic() - started
    metrics = http_get(f"{forwarder.health_url}/metrics")[1]
    exit_code = forwarder.signal(signal.SIGTERM)
    engine.drain()
    outcomes = outcomes_for(engine, fixtures)
    expected = published(outcomes)
    books = books_for(broker, fixtures, expected)

    # Then it stopped cleanly, every event ran once (no redelivery), and the metrics counted them
    assert exit_code == 0, forwarder.log()
    assert len(outcomes) == len(events)
    assert sorted((o.event["fixture_id"], o.event["sequence"]) for o in outcomes) == sorted(
        (e["fixture_id"], e["sequence"]) for e in events
    )
    assert not [o.execution_name for o in outcomes if "-redelivery-" in o.execution_name]
    assert f"onprem_forwarder_events_accepted_total {len(events)}" in metrics
    assert 'onprem_forwarder_consumer_lag{partition="0"}' in metrics

    # And every published book is on the outbound topic, keyed by its fixture, one book per event
    copies = one_book_per_published_event(books, expected)
    print(
        f"\nforwarded {len(events)} events in {forwarded_seconds:.1f} s ({len(events) / forwarded_seconds:.1f}/s), "
        f"{copies} publish-retry copies on the topic"
    )


def test_a_forwarder_killed_mid_stream_loses_nothing_and_duplicates_nothing_downstream(
    broker: TansuBroker,
    engine: LocalEngine,
    gateway: LocalGateway,
    poller: OutboundPoller,
    forwarder: ForwarderProcess,
    feed_topic: str,
) -> None:
    # Given four whole matches on the feed topic, and a forwarder that commits every 2 s (so that a kill
    # always lands between some events being accepted and their offsets being committed)
    events = matches("E2E-KILL", fixtures=4, seed=5)
    fixtures = {event["fixture_id"] for event in events}
    produce_feed(broker, feed_topic, events)
    group = forwarder.environment["KAFKA_GROUP_ID"]
    forwarder.environment["COMMIT_INTERVAL_SECONDS"] = "2"

    # When it is killed (SIGKILL) a third of the way through, then started again until everything is committed
    forwarder.start()
    wait_until(lambda: len(outcomes_for(engine, fixtures)) >= len(events) // 3, timeout=120, message=forwarder.log())
    forwarder.kill()
    committed_at_kill = committed_total(broker, feed_topic, group)
    engine.drain()
    accepted_before_kill = len(outcomes_for(engine, fixtures))
    forwarder.environment["COMMIT_INTERVAL_SECONDS"] = "0.5"
    forwarder.start()
    wait_until(lambda: committed_total(broker, feed_topic, group) == len(events), timeout=180, message=forwarder.log())
    assert forwarder.signal(signal.SIGTERM) == 0, forwarder.log()
    engine.drain()
    outcomes = outcomes_for(engine, fixtures)
    expected = published(outcomes)
    books = books_for(broker, fixtures, expected)

    # Then the kill really was mid-stream, and some accepted events were sent again after the restart
    assert committed_at_kill < accepted_before_kill < len(events)
    sent_twice = [o for o in outcomes if "-redelivery-" in o.execution_name]
    assert sent_twice, "the kill landed after a commit: nothing was redelivered, the test proved nothing"

    # And nothing was lost: every event of the feed ran
    ran = {(o.event["fixture_id"], o.event["sequence"]) for o in outcomes}
    assert ran == {(e["fixture_id"], e["sequence"]) for e in events}

    # And no redelivery was published again: the workflow's guard met each one (same fixture and sequence),
    # so the outbound topic has one book per published event
    redelivered = {(o.event["fixture_id"], o.event["sequence"]) for o in sent_twice}
    assert all(expected[key] <= 1 for key in redelivered)
    copies = one_book_per_published_event(books, expected)
    print(
        f"\nkill/restart: {len(events)} events produced, {accepted_before_kill} accepted before SIGKILL "
        f"({committed_at_kill} committed), {len(sent_twice)} forwarded twice, "
        f"{len(expected)} books published once each ({copies} publish-retry copies); "
        f"outcomes {dict(Counter(o.final_state for o in outcomes))}"
    )


def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_fixture_carries_on(
    broker: TansuBroker,
    engine: LocalEngine,
    gateway: LocalGateway,
    forwarder: ForwarderProcess,
    feed_topic: str,
) -> None:
    # Given a fixture's events with a bad one and a line that is not JSON in the middle
    create, kick_off = matches("E2E-POISON", fixtures=1, seed=3)[:2]
    bad = dict(kick_off, type="corner", sequence=kick_off["sequence"] + 1)
    later = dict(kick_off, sequence=kick_off["sequence"] + 2, event_id="E2E-POISON-later")
    produce_feed(broker, feed_topic, [create, bad, "{not json", later])
    group = forwarder.environment["KAFKA_GROUP_ID"]

    # When the forwarder has finished with all four records
    forwarder.start()
    wait_until(lambda: committed_total(broker, feed_topic, group) == 4, timeout=120, message=forwarder.log())
    dead = read_topic(broker, f"{feed_topic}-dead-letters", until=lambda records: len(records) >= 2)
    assert forwarder.signal(signal.SIGTERM) == 0
    engine.drain()

    # Then the two poison records are on the dead-letter topic as they were, each with its reason
    by_value = {record.value(): {key: value.decode() for key, value in record.headers() or []} for record in dead}
    assert set(by_value) == {json.dumps(bad).encode(), b"{not json"}
    assert by_value[json.dumps(bad).encode()]["http-status"] == "400"
    assert "type" in by_value[json.dumps(bad).encode()]["dead-letter-reason"]
    assert by_value[b"{not json"]["dead-letter-reason"].startswith("not JSON")

    # And the good events before and after them reached the workflow, in order
    ran = [o.event["sequence"] for o in outcomes_for(engine, {create["fixture_id"]})]
    assert sorted(ran) == [create["sequence"], kick_off["sequence"] + 2]
