"""The outbound poller: the on-prem SQS queue(s) -> the next team's Kafka topic, keyed by fixture.

python -m onprem.poller   (configured by the environment: onprem/settings.py, docs/onprem.md)

Delivery rules
- The SNS -> SQS subscriptions use raw message delivery (stacks/constructs/price_fanout.py): a message
  body is the price book itself (lambdas/models/price_message.py), not an SNS envelope.
- Each message is produced (idempotent producer, acks=all) with key = the book's fixture_id, so one
  fixture's books stay in one partition. A message is deleted from SQS only after Kafka acknowledged
  it; one whose produce failed is left alone and comes back after the queue's visibility timeout.
- A body that is not a price book (not JSON, no fixture_id) is never deleted: after the queue's
  maxReceiveCount SQS moves it to the queue's dead-letter queue, where it alarms.
- At least once: if a delete fails after Kafka acknowledged, the book is produced again on redelivery.
  Consumers of the topic keep the book with the highest (fixture_id, revision), as every price consumer must.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from onprem.health import Heartbeat, Metrics, serve_probes
from onprem.logs import log
from onprem.settings import PollerSettings, SettingsError, poller_settings

FAILURE_PAUSE_SECONDS = 1.0  # after a failed receive, so an outage does not spin


@dataclass(frozen=True)
class Received:
    """One SQS message, with the Kafka key it goes under (None: not a price book)."""

    message_id: str
    receipt_handle: str
    body: str
    fixture_id: str | None


def parse(message: dict[str, Any]) -> Received:
    try:
        book = json.loads(message["Body"])
        fixture_id = book.get("fixture_id") if isinstance(book, dict) else None
    except ValueError:
        fixture_id = None
    return Received(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message["Body"],
        fixture_id=fixture_id if isinstance(fixture_id, str) and fixture_id else None,
    )


class OutboundPoller:
    """Long-polls each queue in turn and relays its price books to Kafka (see the module docstring)."""

    def __init__(self, settings: PollerSettings, *, sqs: Any, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.sqs = sqs
        self.metrics = metrics or poller_metrics()
        self.heartbeat = Heartbeat(
            stale_after_seconds=settings.wait_time_seconds + settings.delivery_timeout_seconds + 30
        )
        self.stopping = threading.Event()
        self._last_receive_error: str | None = None
        self._received_once = False
        self.producer = Producer(
            {**settings.kafka.client_config(), "enable.idempotence": True, "acks": "all", "linger.ms": 5}
        )

    def not_ready_because(self) -> str | None:
        if self.stopping.is_set():
            return "shutting down"
        if self._last_receive_error is not None:
            return f"SQS receive failing: {self._last_receive_error}"
        if not self._received_once:
            return "no receive completed yet"
        return None

    def run(self) -> int:
        log("info", "poller started", queues=list(self.settings.queue_urls), topic=self.settings.outbound_topic)
        while not self.stopping.is_set():
            for queue_url in self.settings.queue_urls:
                if self.stopping.is_set():
                    break
                self.heartbeat.beat()
                self.poll_once(queue_url)
        self.producer.flush(self.settings.delivery_timeout_seconds)
        log("info", "poller stopped")
        return 0

    def request_stop(self, *_: Any) -> None:
        self.stopping.set()

    def poll_once(self, queue_url: str) -> int:
        """One receive, relay and delete; returns how many messages were deleted."""
        queue = queue_url.rsplit("/", 1)[-1]
        try:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=self.settings.max_messages,
                WaitTimeSeconds=self.settings.wait_time_seconds,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        except Exception as error:  # noqa: BLE001 - any client failure: report, pause, try again
            self._last_receive_error = repr(error)[:300]
            self.metrics.inc("receive_errors_total", queue=queue)
            log("warning", "receive failed", queue=queue, error=repr(error))
            self.stopping.wait(FAILURE_PAUSE_SECONDS)
            return 0
        self._last_receive_error = None
        self._received_once = True
        self.metrics.inc("messages_received_total", len(messages), queue=queue)
        if not messages:
            return 0
        produced = self._produce([parse(message) for message in messages], queue)
        return self._delete(queue_url, queue, produced)

    def _produce(self, batch: list[Received], queue: str) -> list[Received]:
        """Produce every price book of the batch; answers the ones Kafka acknowledged."""
        acknowledged: list[Received] = []
        pending = {"count": 0}

        def report(received: Received) -> Any:
            def on_delivery(error: KafkaError | None, _: Message) -> None:
                pending["count"] -= 1
                if error is None:
                    acknowledged.append(received)
                else:
                    self.metrics.inc("produce_errors_total", queue=queue)
                    log(
                        "warning", "produce failed; left on the queue", message_id=received.message_id, error=str(error)
                    )

            return on_delivery

        for received in batch:
            if received.fixture_id is None:
                self.metrics.inc("unparseable_messages_total", queue=queue)
                log("warning", "not a price book; left for the dead-letter queue", message_id=received.message_id)
                continue
            try:
                self.producer.produce(
                    self.settings.outbound_topic,
                    key=received.fixture_id.encode(),
                    value=received.body.encode(),
                    headers=[("sqs-message-id", received.message_id.encode()), ("sqs-queue", queue.encode())],
                    on_delivery=report(received),
                )
            except (KafkaException, BufferError) as error:  # refused before sending (too large, queue full)
                self.metrics.inc("produce_errors_total", queue=queue)
                log("warning", "produce refused; left on the queue", message_id=received.message_id, error=str(error))
                continue
            pending["count"] += 1
        deadline = time.monotonic() + self.settings.delivery_timeout_seconds
        while pending["count"] > 0 and time.monotonic() < deadline:
            self.producer.poll(0.05)
        self.metrics.inc("messages_produced_total", len(acknowledged), queue=queue)
        return acknowledged

    def _delete(self, queue_url: str, queue: str, produced: list[Received]) -> int:
        deleted = 0
        for start in range(0, len(produced), 10):  # DeleteMessageBatch takes at most 10 entries
            chunk = produced[start : start + 10]
            try:
                response = self.sqs.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[{"Id": str(index), "ReceiptHandle": r.receipt_handle} for index, r in enumerate(chunk)],
                )
            except Exception as error:  # noqa: BLE001 - the messages come back and are produced again
                self.metrics.inc("delete_errors_total", len(chunk), queue=queue)
                log("warning", "delete failed; the messages will be produced again", queue=queue, error=repr(error))
                continue
            failed = response.get("Failed", [])
            if failed:
                self.metrics.inc("delete_errors_total", len(failed), queue=queue)
                log("warning", "some deletes failed; those messages will be produced again", failed=failed)
            deleted += len(response.get("Successful", []))
        self.metrics.inc("messages_deleted_total", deleted, queue=queue)
        return deleted

    def refresh_depths(self) -> None:
        """Queue depth (the poller's lag): visible and in-flight messages per queue."""
        for queue_url in self.settings.queue_urls:
            queue = queue_url.rsplit("/", 1)[-1]
            try:
                attributes = self.sqs.get_queue_attributes(
                    QueueUrl=queue_url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
            except Exception:  # noqa: BLE001, S112 - a metric refresh never stops the relay
                continue
            self.metrics.set("queue_visible_messages", float(attributes["ApproximateNumberOfMessages"]), queue=queue)
            self.metrics.set(
                "queue_in_flight_messages", float(attributes["ApproximateNumberOfMessagesNotVisible"]), queue=queue
            )


def poller_metrics() -> Metrics:
    metrics = Metrics("onprem_poller")
    for name, kind, help_text in (
        ("messages_received_total", "counter", "Messages received from SQS, by queue"),
        ("messages_produced_total", "counter", "Price books Kafka acknowledged, by queue"),
        ("messages_deleted_total", "counter", "Messages deleted from SQS after Kafka acknowledged them"),
        ("produce_errors_total", "counter", "Produces Kafka refused (the message stays on the queue)"),
        ("delete_errors_total", "counter", "Deletes SQS refused (the book will be produced again)"),
        ("receive_errors_total", "counter", "Failed ReceiveMessage calls"),
        ("unparseable_messages_total", "counter", "Bodies that are not price books (left for the DLQ)"),
        ("queue_visible_messages", "gauge", "Messages waiting on the queue (the poller's lag)"),
        ("queue_in_flight_messages", "gauge", "Messages received and not yet deleted"),
    ):
        metrics.describe(name, kind, help_text)
    return metrics


def sqs_client(settings: PollerSettings) -> Any:
    """An SQS client signing with the default chain, or with the assumed POLLER_ROLE_ARN (refreshed)."""
    import botocore.session
    from botocore.config import Config

    from onprem.aws import credentials

    session = botocore.session.get_session()
    if settings.role_arn is not None:
        # botocore has no public setter for refreshing credentials; this attribute is what its own
        # credential resolver fills, and clients created from the session refresh through it.
        session._credentials = credentials(region=settings.region, role_arn=settings.role_arn, session_name="poller")
    # The long poll must outlive WaitTimeSeconds: the read timeout leaves it 10 s of slack.
    config = Config(read_timeout=settings.wait_time_seconds + 10, retries={"mode": "standard"})
    return session.create_client(
        "sqs", region_name=settings.region, endpoint_url=settings.sqs_endpoint_url, config=config
    )


def main(environ: dict[str, str] | None = None) -> int:
    import os

    try:
        settings = poller_settings(os.environ if environ is None else environ)
    except SettingsError as error:
        print(f"outbound poller: configuration error: {error}", file=sys.stderr)
        return 2
    poller = OutboundPoller(settings, sqs=sqs_client(settings))
    health = serve_probes(poller, host=settings.health.host, port=settings.health.port)
    depths = threading.Thread(target=_refresh_depths_forever, args=(poller,), name="queue-depths", daemon=True)
    depths.start()
    try:
        return poller.run()
    finally:
        health.stop()


def _refresh_depths_forever(poller: OutboundPoller, interval: float = 15.0) -> None:
    while not poller.stopping.wait(interval):
        poller.refresh_depths()


if __name__ == "__main__":
    sys.exit(main())
