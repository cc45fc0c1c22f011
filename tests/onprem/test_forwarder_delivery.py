"""The forwarder's delivery rules against a real Kafka-protocol broker and an ingest endpoint that misbehaves.

The endpoint here is a stub HTTP server: API Gateway's throttling (429) and Step Functions' faults (503)
cannot be provoked from the local gateway, so the stub answers them on cue and records what it received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.credentials import Credentials

from local_engine.kafka_broker import LOCAL_SESSION_TIMEOUT_MS, TansuBroker
from local_engine.mqtt import free_port
from onprem.forwarder import FeedForwarder, IngestClient
from onprem.settings import forwarder_settings
from tests.onprem.conftest import committed_total, produce_feed, read_topic, wait_until

pytestmark = pytest.mark.slow


class StubIngest:
    """Answers each event_id from a script of statuses (then 202), recording every request in order."""

    def __init__(self, script: dict[str, list[int]]) -> None:
        self.script = {key: list(statuses) for key, statuses in script.items()}
        self.requests: list[tuple[str, str]] = []  # (event_id, Authorization header)
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub._lock:
                    stub.requests.append((body["event_id"], self.headers.get("Authorization", "")))
                    statuses = stub.script.get(body["event_id"], [])
                    status = statuses.pop(0) if statuses else 202
                payload = json.dumps({"detail": f"scripted {status}"}).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/feed-events"


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    with TansuBroker() as running:
        running.create_topics("feed", "feed-dead-letters")
        yield running


def test_throttling_is_retried_in_order_and_a_rejected_body_is_dead_lettered(broker: TansuBroker) -> None:
    # Given three events of one fixture: the first throttled then failing before it is accepted, the
    # second rejected for its body, the third accepted at once
    events = [{"fixture_id": "F1", "sequence": n, "event_id": f"F1-{n}"} for n in (1, 2, 3)]
    produce_feed(broker, "feed", events)
    stub = StubIngest({"F1-1": [429, 503, 429], "F1-2": [400]})
    settings = forwarder_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FEED_TOPIC": "feed",
            "DEAD_LETTER_TOPIC": "feed-dead-letters",
            "KAFKA_SESSION_TIMEOUT_MS": str(LOCAL_SESSION_TIMEOUT_MS),
            "INGEST_URL": stub.url,
            "AWS_REGION": "eu-west-1",
            "RETRY_BASE_SECONDS": "0.01",
            "RETRY_MAX_SECONDS": "0.05",
            "COMMIT_INTERVAL_SECONDS": "0.1",
            "HEALTH_PORT": str(free_port()),
        }
    )
    ingest = IngestClient(
        url=stub.url, region="eu-west-1", credentials=Credentials("AKIDEXAMPLE", "secret"), timeout=5, pool_size=4
    )
    forwarder = FeedForwarder(settings, ingest=ingest)

    # When the forwarder runs until all three records are committed
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: committed_total(broker, "feed", "feed-forwarder") == 3, timeout=60, message="not committed")
    finally:
        forwarder.request_stop()
        thread.join(timeout=30)
    dead = read_topic(broker, "feed-dead-letters", until=lambda records: len(records) >= 1, timeout=20)

    # Then the fixture's events went strictly in order: the second only after the first was accepted
    assert [event_id for event_id, _ in stub.requests] == ["F1-1", "F1-1", "F1-1", "F1-1", "F1-2", "F1-3"]
    # And every request was SigV4-signed for execute-api in the configured region
    assert all(
        auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/eu-west-1/execute-api/aws4_request" in auth
        for _, auth in stub.requests
    )
    # And the rejected event is on the dead-letter topic as it was, with the API's reason
    (record,) = dead
    headers = {key: value.decode() for key, value in record.headers() or []}
    assert json.loads(record.value()) == events[1] and record.key() == b"F1"
    assert headers["http-status"] == "400" and "scripted 400" in headers["dead-letter-reason"]
    assert headers["source-topic"] == "feed" and headers["source-offset"].isdigit()
    # And the metrics count what happened
    assert forwarder.metrics.value("ingest_retries_total", cause="http_429") == 2
    assert forwarder.metrics.value("ingest_retries_total", cause="http_503") == 1
    assert forwarder.metrics.value("events_accepted_total") == 2
    assert forwarder.metrics.value("events_dead_lettered_total", status="400") == 1
    assert not thread.is_alive()


def test_an_unreachable_endpoint_is_retried_without_committing_and_reported_not_ready(broker: TansuBroker) -> None:
    # Given an event on a fresh topic and an ingest URL where nothing listens
    broker.create_topics("feed-down", "feed-down-dead-letters")
    produce_feed(broker, "feed-down", [{"fixture_id": "F9", "sequence": 1, "event_id": "F9-1"}])
    nowhere = f"http://127.0.0.1:{free_port()}/v1/feed-events"
    settings = forwarder_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "FEED_TOPIC": "feed-down",
            "DEAD_LETTER_TOPIC": "feed-down-dead-letters",
            "KAFKA_GROUP_ID": "down-forwarder",
            "KAFKA_SESSION_TIMEOUT_MS": str(LOCAL_SESSION_TIMEOUT_MS),
            "INGEST_URL": nowhere,
            "AWS_REGION": "eu-west-1",
            "RETRY_BASE_SECONDS": "0.01",
            "RETRY_MAX_SECONDS": "0.02",
            "COMMIT_INTERVAL_SECONDS": "0.1",
            "SHUTDOWN_GRACE_SECONDS": "0.5",
        }
    )
    ingest = IngestClient(
        url=nowhere, region="eu-west-1", credentials=Credentials("AKIDEXAMPLE", "secret"), timeout=1, pool_size=1
    )
    forwarder = FeedForwarder(settings, ingest=ingest)

    # When it runs for a while, then is stopped
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    wait_until(
        lambda: forwarder.metrics.value("ingest_retries_total", cause="connection") >= 6, timeout=60, message="no retry"
    )
    not_ready = forwarder.not_ready_because()
    forwarder.request_stop()
    thread.join(timeout=30)

    # Then it kept retrying, said why it is not ready, skipped nothing and committed nothing
    assert not_ready is not None and not_ready.startswith("ingest failing") and "connection" in not_ready
    assert forwarder.metrics.value("events_dead_lettered_total") == 0
    assert committed_total(broker, "feed-down", "down-forwarder") == 0
    assert not thread.is_alive()
