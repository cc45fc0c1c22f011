"""The local broker refuses what AWS IoT Core refuses (local_engine/iot_core.py cites the AWS documentation).

Real Mosquitto behind the IoT Core front door, real paho-mqtt clients: the same port the engine, the tests and
(through the WebSocket bridge) the browsers use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from local_engine.iot_core import MAX_FILTERS_PER_SUBSCRIBE, MAX_SUBSCRIPTIONS_PER_CONNECTION
from local_engine.mqtt import MosquittoBroker

PRICES = "trading/v1/fixtures/+/prices"
EIGHT_SLASHES = "trading/v1/fixtures/F/prices/a/b/c/d"
SEVEN_SLASHES = "trading/v1/fixtures/F/prices/a/b/c"
QUIET_S = 1.0  # how long "nothing arrives" is watched for; locally a message takes a few ms


@pytest.fixture(scope="module")
def broker() -> Iterator[MosquittoBroker]:
    running = MosquittoBroker(log_subscriptions=True).start()
    yield running
    running.stop()


@dataclass
class Probe:
    """One MQTT 3.1.1 connection, recording SUBACK codes, messages and whether the broker closed it."""

    port: int
    name: str
    subacks: dict[int, list[int]] = field(default_factory=dict)  # mid -> return codes
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)  # topic, payload, retain flag
    closed: threading.Event = field(default_factory=threading.Event)
    _acked: threading.Condition = field(default_factory=threading.Condition)
    _client: Any = None

    def __enter__(self) -> Probe:
        connected = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{self.name}-{id(self)}")
        client.reconnect_delay_set(min_delay=60, max_delay=60)  # a closed connection stays closed for the test

        def on_subscribe(c: Any, userdata: Any, mid: int, codes: list[Any], properties: Any) -> None:
            with self._acked:
                self.subacks[mid] = [code.value for code in codes]
                self._acked.notify_all()

        client.on_connect = lambda *_: connected.set()
        client.on_subscribe = on_subscribe
        client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload), bool(m.retain)))
        client.on_disconnect = lambda *_: self.closed.set()
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        assert connected.wait(10), "no CONNACK"
        self._client = client
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.loop_stop()
        self._client.disconnect()

    def subscribe(self, *filters: str, timeout: float = 5) -> list[int] | None:
        """The SUBACK's return codes for one SUBSCRIBE with ``filters``, or None if none came."""
        _, mid = self._client.subscribe([(topic_filter, 1) for topic_filter in filters])
        with self._acked:
            self._acked.wait_for(lambda: mid in self.subacks or self.closed.is_set(), timeout)
            return self.subacks.get(mid)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=5)

    def wait_for_messages(self, count: int, timeout: float = 5) -> list[tuple[str, bytes, bool]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.messages)


def test_a_wildcard_subscription_gets_no_retained_message_and_an_exact_one_does(broker: MosquittoBroker) -> None:
    # Given two fixtures' books published with RETAIN (which Mosquitto stores and IoT Core would too)
    with Probe(broker.port, "publisher") as publisher:
        publisher.publish("trading/v1/fixtures/RET-1/prices", b"book-1", retain=True)
        publisher.publish("trading/v1/fixtures/RET-2/prices", b"book-2", retain=True)

        # When a console subscribes afterwards with the one wildcard filter, and another client with an exact one
        with Probe(broker.port, "late-wildcard") as wildcard, Probe(broker.port, "late-exact") as exact:
            assert wildcard.subscribe(PRICES) == [1]
            assert exact.subscribe("trading/v1/fixtures/RET-2/prices") == [1]
            time.sleep(QUIET_S)

            # Then the wildcard subscriber gets no retained book (AWS: only an exact filter does)...
            assert wildcard.messages == []
            # ...the exact subscriber gets its topic's retained book, flagged as retained
            assert exact.messages == [("trading/v1/fixtures/RET-2/prices", b"book-2", True)]
            # ...and the wildcard subscription is live: the next book reaches it, not flagged as retained
            publisher.publish("trading/v1/fixtures/RET-1/prices", b"book-1b")
            assert wildcard.wait_for_messages(1) == [("trading/v1/fixtures/RET-1/prices", b"book-1b", False)]


def test_the_51st_subscription_of_a_connection_is_refused_and_the_connection_closed(broker: MosquittoBroker) -> None:
    # Given a connection holding 50 subscriptions, made 8 filters per SUBSCRIBE at most
    filters = [f"trading/v1/fixtures/LIMIT-{n}/prices" for n in range(MAX_SUBSCRIPTIONS_PER_CONNECTION)]
    with Probe(broker.port, "fifty") as client:
        for start in range(0, len(filters), MAX_FILTERS_PER_SUBSCRIBE):
            chunk = filters[start : start + MAX_FILTERS_PER_SUBSCRIBE]
            assert client.subscribe(*chunk) == [1] * len(chunk)
        # ...which may subscribe again to a filter it holds (that replaces it; the count stays 50)
        assert client.subscribe(filters[0]) == [1]
        assert not client.closed.is_set()

        # When it asks for a 51st
        codes = client.subscribe("trading/v1/fixtures/LIMIT-50/prices")

        # Then the SUBACK refuses it (0x80) and IoT Core closes the connection, and Mosquitto never saw the filter
        assert codes == [0x80]
        assert client.closed.wait(5)
    assert "trading/v1/fixtures/LIMIT-50/prices" not in {s.topic_filter for s in broker.subscriptions()}


def test_a_subscribe_with_nine_filters_closes_the_connection_without_a_suback(broker: MosquittoBroker) -> None:
    # Given a connected client
    nine = [f"trading/v1/fixtures/NINE-{n}/prices" for n in range(MAX_FILTERS_PER_SUBSCRIBE + 1)]
    with Probe(broker.port, "nine") as client:
        # When it sends one SUBSCRIBE with 9 topic filters
        codes = client.subscribe(*nine)

        # Then there is no SUBACK, the connection is closed, and no filter of it reached Mosquitto
        assert codes is None
        assert client.closed.wait(5)
    assert not set(nine) & {s.topic_filter for s in broker.subscriptions()}


def test_a_topic_filter_with_more_than_seven_slashes_is_refused(broker: MosquittoBroker) -> None:
    # Given a connected client
    with Probe(broker.port, "slashes") as client:
        # When it subscribes to a filter with 8 slashes, beside one with 7, in one SUBSCRIBE
        codes = client.subscribe(EIGHT_SLASHES, SEVEN_SLASHES)

        # Then the 8-slash filter is refused and the 7-slash one granted, on a connection that stays open
        assert codes == [0x80, 1]
        time.sleep(0.2)
        assert not client.closed.is_set()
    assert EIGHT_SLASHES not in {s.topic_filter for s in broker.subscriptions()}


def test_a_publish_to_a_topic_with_more_than_seven_slashes_closes_the_connection(broker: MosquittoBroker) -> None:
    # Given a subscriber to everything under the prices prefix, and a publisher
    with Probe(broker.port, "all") as everything, Probe(broker.port, "publisher") as publisher:
        assert everything.subscribe("trading/v1/fixtures/#") == [1]

        # When the publisher publishes to a topic with 7 slashes, then to one with 8
        publisher.publish(SEVEN_SLASHES, b"fine")
        publisher._client.publish(EIGHT_SLASHES, b"refused", qos=0)

        # Then the first is delivered; the second is not, and the publisher's connection is closed
        assert publisher.closed.wait(5)
        time.sleep(0.2)
        assert everything.messages == [(SEVEN_SLASHES, b"fine", False)]
