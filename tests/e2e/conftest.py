"""End-to-end tier: the synthesized app in the local engine, with a real MQTT broker and the real handlers."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from local_engine.engine import PRICE_SUBSCRIPTION, LocalEngine
from local_engine.gateway import LocalGateway
from local_engine.session import quiet_libraries
from tests.synth import SynthesizedApp

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "docs" / "samples"


@pytest.fixture(scope="module")
def engine(dev_app: SynthesizedApp) -> Iterator[LocalEngine]:
    quiet_libraries()
    with LocalEngine(dev_app.outdir, concurrency=4) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    """The engine's REST APIs on a loopback port, as deployed (local_engine/gateway.py)."""
    with LocalGateway(engine) as running:
        yield running


def call_api(
    gateway: LocalGateway, method: str, path: str, body: Any = None, *, token: str | None = None
) -> tuple[int, Any]:
    """One request to the trader API under /v1, as the console sends it: status and JSON answer."""
    headers = {"Content-Type": "application/json", **({"Authorization": token} if token else {})}
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{gateway.url}/v1{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass
class MqttSubscriber:
    """A browser's view: one client, ONE wildcard subscription, every message it receives."""

    port: int
    topic_filter: str = PRICE_SUBSCRIPTION
    messages: list[tuple[str, dict[str, Any], bool]] = field(default_factory=list)  # topic, body, retained
    subscriptions: int = 0
    _client: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> MqttSubscriber:
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-subscriber-{id(self)}")

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            c.subscribe(self.topic_filter, qos=1)
            self.subscriptions += 1

        def on_message(c: Any, userdata: Any, message: Any) -> None:
            with self._lock:
                self.messages.append((message.topic, json.loads(message.payload), bool(message.retain)))

        client.on_connect = on_connect
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = on_message
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        assert subscribed.wait(10), "subscription not acknowledged"
        self._client = client
        return self

    def for_fixture(self, fixture_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for _, body, _ in self.messages if body["fixture_id"] == fixture_id]

    def wait_for(self, fixture_id: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.for_fixture(fixture_id)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.for_fixture(fixture_id)

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


@pytest.fixture
def subscriber(engine: LocalEngine) -> Iterator[MqttSubscriber]:
    assert engine.broker is not None
    running = MqttSubscriber(engine.broker.port).start()
    yield running
    running.stop()


def match_events(fixture_id: str) -> list[dict[str, Any]]:
    """The documented sample match (docs/samples), for a fixture of the test's own."""
    events = [json.loads(path.read_text()) for path in sorted(SAMPLES_DIR.glob("*.json"))]
    return [dict(event, fixture_id=fixture_id, event_id=f"{fixture_id}-{event['sequence']}") for event in events]


def queue_bodies_for(engine: LocalEngine, queue: str, fixture_id: str) -> list[dict[str, Any]]:
    """Every message on a queue (received and deleted) whose book or event is for ``fixture_id``."""
    bodies = [message["Body"] for message in engine.receive_all(queue)]
    return [
        body
        for body in bodies
        if isinstance(body, dict) and (body.get("fixture_id") or body.get("event", {}).get("fixture_id")) == fixture_id
    ]
