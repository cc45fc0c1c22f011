"""The feed forwarder: the feed Kafka topic -> the ingest API (SigV4), at least once, in order per fixture.

python -m onprem.forwarder   (configured by the environment: onprem/settings.py, docs/onprem.md)

Delivery rules
- A record's offset is committed only after AWS accepted it (HTTP 2xx) or it went to the dead-letter
  topic, and only once every earlier record of its partition did too (onprem/ordering.py). A crash
  replays from the first unfinished record; the ingest API names each execution after the event
  (``feed-{fixture_id}-{sequence}``) and the workflow's guard skips what it has applied before.
- Records with the same key (the fixture) are sent one at a time, in partition order; different
  fixtures go in parallel, at most MAX_IN_FLIGHT requests at once.
- 429, 5xx, 401/403/404/408 and connection errors are retried with exponential backoff and full jitter,
  without limit: nothing is skipped. A record is the sender's fault only when the API says so about its
  body (400, 413, 415, 422): it goes to the dead-letter topic with the reason, then counts as finished.
  401/403/404 are retried, not dead-lettered: they mean expired credentials or a wrong URL, and
  dead-lettering the whole feed for a configuration error would lose nothing but bury everything.
- SIGTERM/SIGINT: stop fetching, finish what is buffered (at most SHUTDOWN_GRACE_SECONDS), commit, leave
  the group, exit 0. What did not finish in time is not committed and is replayed by the next owner.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from onprem.aws import credentials as aws_credentials
from onprem.health import Heartbeat, Metrics, serve_probes
from onprem.logs import log
from onprem.ordering import KeyedLanes, OffsetTracker, Partition
from onprem.settings import ForwarderSettings, SettingsError, forwarder_settings

# The body is at fault: the API validated it and said no. Everything else non-2xx is worth retrying.
POISON_STATUSES = frozenset({400, 413, 415, 422})
# Consecutive failed attempts after which the forwarder reports itself not ready (it keeps retrying).
UNREADY_AFTER_FAILURES = 5
LAG_REFRESH_SECONDS = 5.0
DeliveryOutcome = Literal["accepted", "dead-lettered", "aborted"]


@dataclass(frozen=True)
class FeedRecord:
    """One record read from the feed topic, with the lane (fixture) it is ordered in."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    lane: str

    @property
    def topic_partition(self) -> Partition:
        return (self.topic, self.partition)


def lane_of(key: bytes | None, value: bytes | None, partition: int) -> str:
    """The record's ordering lane: its key (the fixture id), else the body's fixture_id, else its partition."""
    if key:
        return key.decode("utf-8", errors="replace")
    try:
        fixture = json.loads(value or b"").get("fixture_id")
    except (ValueError, AttributeError):
        fixture = None
    return str(fixture) if isinstance(fixture, str) and fixture else f"partition-{partition}"


def unsendable(value: bytes | None) -> str | None:
    """Why a record cannot be sent at all (the API would answer 400 for it), or None."""
    if not value:
        return "empty record"
    try:
        body = json.loads(value)
    except ValueError as error:
        return f"not JSON ({error})"
    return None if isinstance(body, dict) else "not a JSON object"


def backoff_seconds(attempt: int, *, base: float, cap: float, draw: Callable[[float, float], float]) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return draw(0.0, min(cap, base * (2 ** min(attempt, 32))))


class IngestClient:
    """POSTs one event to the ingest API, signed with SigV4 for execute-api; answers (status, body)."""

    def __init__(self, *, url: str, region: str, credentials: Credentials, timeout: float, pool_size: int) -> None:
        self.url, self.region, self.credentials = url, region, credentials
        self._http = urllib3.PoolManager(
            maxsize=pool_size, block=True, retries=False, timeout=urllib3.Timeout(total=timeout)
        )

    def post(self, body: bytes) -> tuple[int, str]:
        request = AWSRequest(method="POST", url=self.url, data=body, headers={"Content-Type": "application/json"})
        SigV4Auth(self.credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        response = self._http.request("POST", self.url, body=body, headers=dict(request.headers))
        return response.status, response.data.decode("utf-8", errors="replace")[:1000]


class FeedForwarder:
    """Consumes the feed topic and delivers every record to the ingest API (see the module docstring)."""

    def __init__(
        self,
        settings: ForwarderSettings,
        *,
        ingest: IngestClient,
        metrics: Metrics | None = None,
        draw: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        self.metrics = metrics or forwarder_metrics()
        self.draw = draw
        self.heartbeat = Heartbeat(stale_after_seconds=max(30.0, settings.session_timeout_ms / 1000))
        self.tracker = OffsetTracker()
        self.lanes: KeyedLanes[FeedRecord] = KeyedLanes()
        self.stopping = threading.Event()
        self.aborting = threading.Event()
        self._assigned = False
        self._consecutive_failures = 0
        self._last_failure: str | None = None
        self._paused = False
        heartbeat_ms = max(100, min(3000, settings.session_timeout_ms // 3))
        self.consumer = Consumer(
            {
                **settings.kafka.client_config(),
                "group.id": settings.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": settings.session_timeout_ms,
                "heartbeat.interval.ms": heartbeat_ms,
            }
        )
        self.producer = Producer(
            {**settings.kafka.client_config(), "enable.idempotence": True, "acks": "all", "linger.ms": 5}
        )
        self._workers = [
            threading.Thread(target=self._work, name=f"forward-{index}", daemon=True)
            for index in range(settings.max_in_flight)
        ]

    # -- readiness ---------------------------------------------------------------------------------

    def not_ready_because(self) -> str | None:
        if self.stopping.is_set():
            return "shutting down"
        if not self._assigned:
            return "not yet in the consumer group"
        if self._consecutive_failures >= UNREADY_AFTER_FAILURES:
            return f"ingest failing ({self._consecutive_failures} attempts in a row; last: {self._last_failure})"
        return None

    # -- the main loop (the only thread that touches the consumer) ---------------------------------

    def run(self) -> int:
        for worker in self._workers:
            worker.start()
        self.consumer.subscribe([self.settings.feed_topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        log("info", "forwarder started", topic=self.settings.feed_topic, group=self.settings.group_id)
        last_commit = last_lag = time.monotonic()
        while not self.stopping.is_set():
            self.heartbeat.beat()
            for message in self.consumer.consume(num_messages=500, timeout=0.1):
                self._dispatch(message)
            self._apply_backpressure()
            now = time.monotonic()
            if now - last_commit >= self.settings.commit_interval_seconds:
                self._commit()
                last_commit = now
            if now - last_lag >= LAG_REFRESH_SECONDS:
                self._refresh_lag()
                last_lag = now
        return self._shut_down()

    def request_stop(self, *_: Any) -> None:
        self.stopping.set()

    def _dispatch(self, message: Message) -> None:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                self.metrics.inc("consumer_errors_total", code=str(error.name()))
                log("warning", "consumer error", error=str(error))
            return
        record = FeedRecord(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key() if isinstance(message.key(), bytes) else None,
            value=message.value() if isinstance(message.value(), bytes) else None,
            lane=lane_of(_as_bytes(message.key()), _as_bytes(message.value()), message.partition() or 0),
        )
        self.tracker.track(record.topic_partition, record.offset)
        self.metrics.inc("events_consumed_total")
        self.lanes.put(record.lane, record)

    def _apply_backpressure(self) -> None:
        """At most MAX_BUFFERED records read and unfinished: stop fetching until half of them are done."""
        outstanding = self.tracker.outstanding()
        self.metrics.set("buffered_events", outstanding)
        self.metrics.set("in_flight_requests", self.lanes.in_flight())
        assignment = self.consumer.assignment()
        if not self._paused and outstanding >= self.settings.max_buffered and assignment:
            self.consumer.pause(assignment)
            self._paused = True
        elif self._paused and outstanding <= self.settings.max_buffered // 2:
            if assignment:
                self.consumer.resume(assignment)
            self._paused = False

    def _commit(self) -> None:
        points = self.tracker.to_commit()
        if not points:
            return
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in points.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            self.metrics.inc("commit_errors_total")
            log("warning", "offset commit failed; retried at the next interval", error=str(error))
            return
        self.tracker.committed(points)
        self.metrics.inc("offset_commits_total")

    def _refresh_lag(self) -> None:
        """Consumer lag per partition: the partition's end offset minus the committed offset."""
        for partition in self.consumer.assignment():
            try:
                _, high = self.consumer.get_watermark_offsets(partition, timeout=1.0, cached=False)
            except KafkaException:
                continue
            committed = self.tracker.last_committed((partition.topic, partition.partition))
            if committed is None:
                committed = self.consumer.committed([partition], timeout=1.0)[0].offset
            lag = high - committed if committed is not None and committed >= 0 else high
            self.metrics.set("consumer_lag", max(0, lag), partition=str(partition.partition))

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = True
        self._paused = False
        log("info", "partitions assigned", partitions=[p.partition for p in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Finish (within the grace period) and commit before the partitions move to another member."""
        revoked = [(p.topic, p.partition) for p in partitions]
        self.lanes.wait_idle(timeout=self.settings.shutdown_grace_seconds)
        self._commit()
        self.lanes.drop(keep=lambda record: record.topic_partition not in revoked)
        self.tracker.forget(revoked)
        log("info", "partitions revoked", partitions=[p.partition for p in partitions])

    def _shut_down(self) -> int:
        log("info", "stopping: finishing buffered events", buffered=self.tracker.outstanding())
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds
        while not self.lanes.wait_idle(timeout=0.2) and time.monotonic() < deadline:
            self.heartbeat.beat()
            self._commit()
        if not self.lanes.idle():
            log("warning", "grace period over: unfinished events are replayed by the next owner")
            self.aborting.set()
        self.lanes.close()
        for worker in self._workers:
            worker.join(timeout=self.settings.request_timeout_seconds + 1)
        self._commit()
        self.consumer.close()
        self.producer.flush(10)
        log("info", "forwarder stopped", committed=self.metrics.total("offset_commits_total"))
        return 0

    # -- workers -----------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            taken = self.lanes.take(timeout=0.5)
            if taken is None:
                if self.aborting.is_set() or (self.stopping.is_set() and self.lanes.idle()):
                    return
                continue
            key, record = taken
            try:
                if self._deliver(record) != "aborted":
                    self.tracker.finish(record.topic_partition, record.offset)
            except Exception as error:  # noqa: BLE001 - a worker must never die: the record stays uncommitted
                self.metrics.inc("worker_errors_total")
                log("error", "delivery failed unexpectedly; stopping", error=repr(error), offset=record.offset)
                self.aborting.set()
                self.stopping.set()
            finally:
                self.lanes.release(key)

    def _deliver(self, record: FeedRecord) -> DeliveryOutcome:
        problem = unsendable(record.value)
        if problem is not None:
            return self._dead_letter(record, reason=problem, status=None)
        assert record.value is not None
        attempt = 0
        while not self.aborting.is_set():
            started = time.perf_counter()
            try:
                status, body = self.ingest.post(record.value)
                cause = f"http_{status}"
            except (urllib3.exceptions.HTTPError, OSError) as error:
                status, body, cause = None, repr(error), "connection"
            self.metrics.inc("ingest_request_seconds_sum", time.perf_counter() - started)
            self.metrics.inc("ingest_request_seconds_count")
            if status is not None and 200 <= status < 300:
                self._consecutive_failures = 0
                self.metrics.inc("events_accepted_total")
                return "accepted"
            if status in POISON_STATUSES:
                self._consecutive_failures = 0
                return self._dead_letter(record, reason=body, status=status)
            self._consecutive_failures += 1
            self._last_failure = f"{cause}: {body[:200]}"
            self.metrics.inc("ingest_retries_total", cause=cause)
            delay = backoff_seconds(
                attempt, base=self.settings.retry_base_seconds, cap=self.settings.retry_max_seconds, draw=self.draw
            )
            if attempt == 0 or attempt % 10 == 0:
                log("warning", "ingest refused; retrying", cause=cause, lane=record.lane, offset=record.offset)
            self.aborting.wait(delay)
            attempt += 1
        return "aborted"

    def _dead_letter(self, record: FeedRecord, *, reason: str, status: int | None) -> DeliveryOutcome:
        """Produce the record, as it was, to the dead-letter topic with why; wait for Kafka to acknowledge it."""
        headers: list[tuple[str, str | bytes | None]] = [
            ("dead-letter-reason", reason.encode()),
            ("http-status", str(status or "").encode()),
            ("source-topic", record.topic.encode()),
            ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode()),
        ]
        attempt = 0
        while not self.aborting.is_set():
            report = DeliveryReport()
            self.producer.produce(
                self.settings.dead_letter_topic,
                key=record.key,
                value=record.value,
                headers=headers,
                on_delivery=report,
            )
            while not report.done.is_set() and not self.aborting.is_set():
                self.producer.poll(0.1)
            if report.done.is_set() and report.error is None:
                self.metrics.inc("events_dead_lettered_total", status=str(status or "unsendable"))
                log("warning", "event dead-lettered", reason=reason[:300], lane=record.lane, offset=record.offset)
                return "dead-lettered"
            self.metrics.inc("dead_letter_errors_total")
            self.aborting.wait(
                backoff_seconds(
                    attempt, base=self.settings.retry_base_seconds, cap=self.settings.retry_max_seconds, draw=self.draw
                )
            )
            attempt += 1
        return "aborted"


class DeliveryReport:
    """Kafka's acknowledgement of one produced record (librdkafka calls it from poll())."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: KafkaError | None = None

    def __call__(self, error: KafkaError | None, _: Message) -> None:
        self.error = error
        self.done.set()


def _as_bytes(value: Any) -> bytes | None:
    return value if isinstance(value, bytes) else None


def forwarder_metrics() -> Metrics:
    metrics = Metrics("onprem_forwarder")
    for name, kind, help_text in (
        ("events_consumed_total", "counter", "Records read from the feed topic"),
        ("events_accepted_total", "counter", "Events the ingest API accepted (2xx)"),
        ("events_dead_lettered_total", "counter", "Records sent to the dead-letter topic, by HTTP status"),
        ("ingest_retries_total", "counter", "Retried ingest attempts, by cause"),
        ("ingest_request_seconds_sum", "counter", "Time spent in ingest requests"),
        ("ingest_request_seconds_count", "counter", "Ingest requests made"),
        ("offset_commits_total", "counter", "Successful offset commits"),
        ("commit_errors_total", "counter", "Failed offset commits (retried)"),
        ("consumer_errors_total", "counter", "Errors reported by the Kafka consumer"),
        ("dead_letter_errors_total", "counter", "Failed produces to the dead-letter topic (retried)"),
        ("worker_errors_total", "counter", "Unexpected delivery failures (the process stops)"),
        ("buffered_events", "gauge", "Records read and not yet finished"),
        ("in_flight_requests", "gauge", "Fixtures with a delivery in flight"),
        ("consumer_lag", "gauge", "End offset minus committed offset, by partition"),
    ):
        metrics.describe(name, kind, help_text)
    return metrics


def main(environ: dict[str, str] | None = None) -> int:
    import os

    try:
        settings = forwarder_settings(os.environ if environ is None else environ)
    except SettingsError as error:
        print(f"feed forwarder: configuration error: {error}", file=sys.stderr)
        return 2
    ingest = IngestClient(
        url=settings.ingest_url,
        region=settings.region,
        credentials=aws_credentials(region=settings.region, role_arn=settings.role_arn, session_name="feed-forwarder"),
        timeout=settings.request_timeout_seconds,
        pool_size=settings.max_in_flight,
    )
    forwarder = FeedForwarder(settings, ingest=ingest)
    health = serve_probes(forwarder, host=settings.health.host, port=settings.health.port)
    try:
        return forwarder.run()
    finally:
        health.stop()


if __name__ == "__main__":
    sys.exit(main())
