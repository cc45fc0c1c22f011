"""Benchmark of the on-prem bridges locally: consumer-group join time on tansu, and events/s through the forwarder.

Run from the project root after `make synth` (`make bench` does both):

    python -m bench.bench_kafka_path [--assembly cdk.out] [--fixtures 4]

Measures, in one run on this machine:
- join: seconds from subscribe() to the first record of a fresh consumer group on tansu, for librdkafka's
  default session timeout (45 s) and the local one (1 s);
- throughput: events per second from the feed topic into the local ingest API through the forwarder (a
  real process), the API answering at StartExecution (as synthesized) and after the execution.
Prints a summary and writes bench/results/kafka_path.json.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from local_engine.kafka_broker import LOCAL_SESSION_TIMEOUT_MS, TansuBroker
from local_engine.kafka_path import run_via_kafka
from local_engine.sample_feed import sample_feed

ROOT = Path(__file__).resolve().parents[1]
LIBRDKAFKA_DEFAULT_SESSION_TIMEOUT_MS = 45000


def group_join_seconds(session_timeout_ms: int) -> float:
    """A fresh group on a fresh broker: subscribe() to the first record received."""
    with TansuBroker() as broker:
        broker.create_topics("join", partitions=3)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        producer.produce("join", key=b"k", value=b"v")
        producer.flush(10)
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap_servers,
                "group.id": "bench-join",
                "auto.offset.reset": "earliest",
                "session.timeout.ms": session_timeout_ms,
                "heartbeat.interval.ms": max(100, min(3000, session_timeout_ms // 3)),
            }
        )
        started = time.monotonic()
        consumer.subscribe(["join"])
        try:
            while True:
                message = consumer.poll(0.05)
                if message is not None and message.error() is None:
                    return time.monotonic() - started
                if time.monotonic() - started > 120:
                    raise TimeoutError("no record within 120 s")
        finally:
            consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--fixtures", type=int, default=4)
    args = parser.parse_args(argv)
    feed = sample_feed(fixtures=args.fixtures, seed=7)
    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "machine": platform.machine()},
        "fixtures": args.fixtures,
        "events": len(feed),
        "group_join_seconds": {
            str(timeout): round(group_join_seconds(timeout), 2)
            for timeout in (LIBRDKAFKA_DEFAULT_SESSION_TIMEOUT_MS, LOCAL_SESSION_TIMEOUT_MS)
        },
    }
    # The ingest API runs the workflow synchronously (StartSyncExecution), so each fixture's events stay in order.
    report = run_via_kafka(feed, assembly=args.assembly, concurrency=8, out=io.StringIO())
    results["ingest_sync"] = {
        "forwarder_events_per_second": report["forwarder_events_per_second"],
        "quarantine_reasons": report["workflow"]["quarantine_reasons"],
        "books_published": report["books_published"],
        "books_on_outbound_topic": report["books_on_outbound_topic"],
    }
    out = ROOT / "bench" / "results" / "kafka_path.json"
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
