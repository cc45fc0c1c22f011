"""On-prem bridges against real parts: tansu (a Kafka-protocol broker) on loopback, the local engine behind
the local gateway (the ingest API as synthesized), and the engine's moto SQS for the outbound queues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from local_engine.kafka_broker import LOCAL_SESSION_TIMEOUT_MS, TansuBroker
from local_engine.mqtt import free_port
from local_engine.session import quiet_libraries
from onprem.poller import OutboundPoller
from onprem.settings import poller_settings
from tests.synth import SynthesizedApp

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OUTBOUND_TOPIC = "prices-outbound"


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    with TansuBroker() as running:
        running.create_topics(OUTBOUND_TOPIC)
        yield running


@pytest.fixture(scope="module")
def engine(dev_app: SynthesizedApp) -> Iterator[LocalEngine]:
    quiet_libraries()
    with LocalEngine(dev_app.outdir, mqtt=False, concurrency=4) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        yield running


@pytest.fixture(scope="module")
def poller(broker: TansuBroker, engine: LocalEngine) -> Iterator[OutboundPoller]:
    """The outbound poller in a thread of this process: the engine's SQS is moto, in-process (mock_aws)."""
    settings = poller_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "OUTBOUND_TOPIC": OUTBOUND_TOPIC,
            "SQS_QUEUE_URLS": engine.queue_url("OnPremPricesQueue"),
            "AWS_REGION": "eu-west-1",
            "WAIT_TIME_SECONDS": "1",
        }
    )
    running = OutboundPoller(settings, sqs=engine.client("sqs"))
    thread = threading.Thread(target=running.run, name="outbound-poller", daemon=True)
    thread.start()
    yield running
    running.request_stop()
    thread.join(timeout=10)


def forwarder_environment(
    broker: TansuBroker, gateway: LocalGateway, *, feed_topic: str, health_port: int, **extra: str
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FEED_TOPIC": feed_topic,
        "DEAD_LETTER_TOPIC": f"{feed_topic}-dead-letters",
        "KAFKA_GROUP_ID": f"{feed_topic}-forwarder",
        "KAFKA_SESSION_TIMEOUT_MS": str(LOCAL_SESSION_TIMEOUT_MS),
        "INGEST_URL": f"{gateway.url}/v1/feed-events",
        "AWS_REGION": "eu-west-1",
        # The local gateway checks that requests are SigV4-signed; it cannot verify a secret (see gateway.py).
        "AWS_ACCESS_KEY_ID": "local-engine",
        "AWS_SECRET_ACCESS_KEY": "local-engine",
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(health_port),
        "RETRY_BASE_SECONDS": "0.05",
        "RETRY_MAX_SECONDS": "1",
        **extra,
    }


@dataclass
class ForwarderProcess:
    """`python -m onprem.forwarder` as a real child process, its log kept for the failure message."""

    environment: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.environment['HEALTH_PORT']}"

    def start(self) -> ForwarderProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, a module of this project
                [sys.executable, "-m", "onprem.forwarder"],
                cwd=PROJECT_ROOT,
                env=self.environment,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return self

    def signal(self, signum: int) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return self.process.wait(timeout=60)

    def kill(self) -> int:
        return self.signal(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]


@pytest.fixture
def feed_topic(broker: TansuBroker) -> str:
    name = f"feed-{uuid.uuid4().hex[:8]}"
    broker.create_topics(name, f"{name}-dead-letters")
    return name


@pytest.fixture
def forwarder(
    broker: TansuBroker, gateway: LocalGateway, feed_topic: str, tmp_path: Path
) -> Iterator[ForwarderProcess]:
    environment = forwarder_environment(broker, gateway, feed_topic=feed_topic, health_port=free_port())
    running = ForwarderProcess(environment, tmp_path / "forwarder.log")
    yield running
    if running.process is not None and running.process.poll() is None:
        running.kill()


def produce_feed(broker: TansuBroker, topic: str, events: list[Any]) -> None:
    """Produce as the supplier's bridge does: keyed by fixture, in feed order."""
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True})
    for event in events:
        value = event if isinstance(event, str) else json.dumps(event)
        key = event.get("fixture_id") if isinstance(event, dict) else None
        producer.produce(topic, key=key.encode() if isinstance(key, str) else None, value=value.encode())
    assert producer.flush(30) == 0


def read_topic(broker: TansuBroker, topic: str, *, until: Any, timeout: float = 60) -> list[Any]:
    """Every record of ``topic`` from the start, read until ``until(records)`` holds or the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": LOCAL_SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 300,
        }
    )
    consumer.subscribe([topic])
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(records):
            for message in consumer.consume(num_messages=500, timeout=0.2):
                if message.error() is None:
                    records.append(message)
    finally:
        consumer.close()
    return records


def committed_total(broker: TansuBroker, topic: str, group: str, partitions: int = 3) -> int:
    """The sum of a group's committed offsets over a topic's partitions (records it counts as done)."""
    from confluent_kafka import TopicPartition

    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": group})
    try:
        offsets = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return sum(max(0, tp.offset) for tp in offsets)


def wait_until(condition: Any, *, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)
