"""`make demo VIA=kafka`: the whole path from Kafka to Kafka, on this machine.

sample feed -> feed topic (tansu) -> feed forwarder (a real process, SigV4) -> the local ingest API ->
the workflow -> SNS -> the OnPremPrices queue (moto) -> outbound poller -> the outbound topic, which is
read back and checked: every published book exactly once, keyed by its fixture.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import IO, Any

from confluent_kafka import Consumer, Producer, TopicPartition

from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from local_engine.kafka_broker import LOCAL_SESSION_TIMEOUT_MS, TansuBroker
from local_engine.mqtt import free_port
from local_engine.session import quiet_libraries
from onprem.poller import OutboundPoller
from onprem.settings import poller_settings

FEED_TOPIC = "sports-feed"
DEAD_LETTER_TOPIC = "sports-feed-dead-letters"
OUTBOUND_TOPIC = "trading-prices"
FORWARDER_GROUP = "feed-forwarder"
PARTITIONS = 3


def run_via_kafka(feed: list[Any], *, assembly: Path, concurrency: int, out: IO[str]) -> dict[str, Any]:
    """Run ``feed`` through both bridges and the local engine; report what came out on the outbound topic."""
    quiet_libraries()
    with TansuBroker() as broker, LocalEngine(assembly, mqtt=False, concurrency=concurrency) as engine:
        broker.create_topics(FEED_TOPIC, DEAD_LETTER_TOPIC, OUTBOUND_TOPIC, partitions=PARTITIONS)
        out.write(f"kafka path: tansu on {broker.bootstrap_servers}, {len(feed)} events\n")
        _produce(broker, feed)
        with LocalGateway(engine) as gateway:
            poller = OutboundPoller(
                poller_settings(
                    {
                        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                        "OUTBOUND_TOPIC": OUTBOUND_TOPIC,
                        "SQS_QUEUE_URLS": engine.queue_url("OnPremPricesQueue"),
                        "AWS_REGION": "eu-west-1",
                        "WAIT_TIME_SECONDS": "1",
                    }
                ),
                sqs=engine.client("sqs"),
            )
            poller_thread = threading.Thread(target=poller.run, name="outbound-poller", daemon=True)
            poller_thread.start()
            started = time.monotonic()
            forwarded_seconds = _forward(broker, gateway, len(feed), out)
            engine.drain()
            published = Counter(
                (o.event["fixture_id"], o.event["sequence"])
                for o in engine.outcomes
                if o.final_state == "PricesPublished" and isinstance(o.event, dict)
            )
            books = _read(broker, OUTBOUND_TOPIC, expected=sum(published.values()))
            poller.request_stop()
            poller_thread.join(timeout=10)
        dead_letters = _read(broker, DEAD_LETTER_TOPIC, expected=None)
        on_topic = Counter((json.loads(value)["fixture_id"], json.loads(value)["sequence"]) for _, value in books)
        accounting = engine.accounting.as_dict()
        report = {
            "events_produced": len(feed),
            "accepted_by_ingest": accounting["events"],
            "dead_lettered": len(dead_letters),
            "forwarder_events_per_second": round(accounting["events"] / forwarded_seconds, 1),
            "workflow": accounting,
            "books_published": sum(published.values()),
            "books_on_outbound_topic": sum(on_topic.values()),
            "books_duplicated_on_topic": sum(count - 1 for count in on_topic.values() if count > 1),
            "books_missing_on_topic": sum((published - on_topic).values()),
            "books_keyed_by_fixture": all(key == json.loads(value)["fixture_id"] for key, value in books),
            "seconds": round(time.monotonic() - started, 1),
        }
    report["accounted_for"] = (
        report["events_produced"] == report["accepted_by_ingest"] + report["dead_lettered"]
        and report["books_missing_on_topic"] == 0
        and report["books_duplicated_on_topic"] == 0
    )
    _print(report, out)
    return report


def _produce(broker: TansuBroker, feed: list[Any]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "enable.idempotence": True})
    for item in feed:
        value = item if isinstance(item, str) else json.dumps(item)
        fixture = item.get("fixture_id") if isinstance(item, dict) else None
        producer.produce(FEED_TOPIC, key=fixture.encode() if isinstance(fixture, str) else None, value=value.encode())
    if producer.flush(30):
        raise RuntimeError("the feed could not be produced to tansu within 30 s")


def _forward(broker: TansuBroker, gateway: LocalGateway, total: int, out: IO[str]) -> float:
    """Run the forwarder as its own process until it has committed every record; answers the seconds taken."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "FEED_TOPIC": FEED_TOPIC,
        "DEAD_LETTER_TOPIC": DEAD_LETTER_TOPIC,
        "KAFKA_GROUP_ID": FORWARDER_GROUP,
        "KAFKA_SESSION_TIMEOUT_MS": str(LOCAL_SESSION_TIMEOUT_MS),
        "INGEST_URL": f"{gateway.url}/v1/feed-events",
        "AWS_REGION": "eu-west-1",
        # The local gateway checks that a request is SigV4-signed; it cannot verify the secret.
        "AWS_ACCESS_KEY_ID": "local-engine",
        "AWS_SECRET_ACCESS_KEY": "local-engine",
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(free_port()),
    }
    log = Path(tempfile.gettempdir()) / f"feed-forwarder-{uuid.uuid4().hex[:8]}.log"
    started = time.monotonic()
    with log.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, a module of this project
            [sys.executable, "-m", "onprem.forwarder"], env=environment, stdout=subprocess.DEVNULL, stderr=log_file
        )
    try:
        deadline = time.monotonic() + 600
        while (done := _committed(broker)) < total:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the forwarder stopped early or stalled; its log: {log}")
            out.write(f"  forwarded {done}/{total}\r")
            out.flush()
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    out.write(f"  forwarded {total}/{total} in {elapsed:.1f} s; forwarder exited {process.returncode} (log: {log})\n")
    return elapsed


def _committed(broker: TansuBroker) -> int:
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": FORWARDER_GROUP})
    try:
        offsets = consumer.committed([TopicPartition(FEED_TOPIC, p) for p in range(PARTITIONS)], timeout=10)
    finally:
        consumer.close()
    return sum(max(0, tp.offset) for tp in offsets)


def _read(broker: TansuBroker, topic: str, *, expected: int | None, timeout: float = 60) -> list[tuple[str, bytes]]:
    """(key, value) of every record of ``topic``: until ``expected`` arrived, or until 3 s bring nothing new."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": f"demo-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": LOCAL_SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": 300,
        }
    )
    consumer.subscribe([topic])
    records: list[tuple[str, bytes]] = []
    deadline, quiet_since = time.monotonic() + timeout, time.monotonic()
    try:
        while time.monotonic() < deadline:
            if expected is not None and len(records) >= expected:
                break
            batch = [m for m in consumer.consume(num_messages=500, timeout=0.2) if m.error() is None]
            records += [((m.key() or b"").decode(), m.value() or b"") for m in batch]
            if batch:
                quiet_since = time.monotonic()
            elif expected is None and time.monotonic() - quiet_since > 3:
                break
    finally:
        consumer.close()
    return records


def _print(report: dict[str, Any], out: IO[str]) -> None:
    workflow = report["workflow"]
    out.write(
        f"\nevents produced to {FEED_TOPIC}: {report['events_produced']}\n"
        f"  accepted by the ingest API  {report['accepted_by_ingest']:>5}   "
        f"({report['forwarder_events_per_second']} events/s through the forwarder)\n"
        f"  dead-lettered               {report['dead_lettered']:>5}   (on {DEAD_LETTER_TOPIC}, with the reason)\n"
        f"workflow: applied {workflow['applied']}, skipped {workflow['skipped']}, "
        f"quarantined {workflow['quarantined']} {workflow['quarantine_reasons']}\n"
        f"books published {report['books_published']}, on {OUTBOUND_TOPIC}: {report['books_on_outbound_topic']} "
        f"(duplicated {report['books_duplicated_on_topic']}, missing {report['books_missing_on_topic']}, "
        f"keyed by fixture: {'yes' if report['books_keyed_by_fixture'] else 'NO'})\n"
        f"accounted for: {'yes' if report['accounted_for'] else 'NO'}\n"
    )
