"""The outbound poller against moto's SQS and a real Kafka-protocol broker: delete only what Kafka acknowledged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_engine.kafka_broker import TansuBroker
from onprem.poller import OutboundPoller
from onprem.settings import poller_settings
from tests.onprem.conftest import read_topic

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    with TansuBroker() as running:
        running.create_topics("prices")
        yield running


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("sqs", region_name="eu-west-1")


def book(fixture_id: str, sequence: int) -> str:
    return json.dumps({"fixture_id": fixture_id, "sequence": sequence, "revision": sequence, "markets": []})


def poller_for(broker: TansuBroker, queue_url: str, sqs: Any, topic: str = "prices", **extra: str) -> OutboundPoller:
    environ = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "OUTBOUND_TOPIC": topic,
        "SQS_QUEUE_URLS": queue_url,
        "AWS_REGION": "eu-west-1",
        "WAIT_TIME_SECONDS": "0",
        **extra,
    }
    return OutboundPoller(poller_settings(environ), sqs=sqs)


def depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_books_go_to_kafka_keyed_by_fixture_and_only_they_are_deleted(broker: TansuBroker, sqs: Any) -> None:
    # Given three price books (raw delivery: the body is the book) and a body that is not a book
    queue_url = sqs.create_queue(QueueName="on-prem-prices")["QueueUrl"]
    bodies = [book("P1", 1), book("P2", 1), book("P1", 2), "not a book"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    poller = poller_for(broker, queue_url, sqs)

    # When the poller makes one pass
    deleted = poller.poll_once(queue_url)
    records = read_topic(broker, "prices", until=lambda found: len(found) >= 3, timeout=30)

    # Then the three books are on the topic, each keyed by its fixture, and only they left the queue
    assert sorted((r.key(), r.value().decode()) for r in records) == sorted(
        (json.loads(body)["fixture_id"].encode(), body) for body in bodies[:3]
    )
    assert deleted == 3
    assert depth(sqs, queue_url) == (0, 1)  # the non-book waits for redelivery, then the queue's DLQ
    assert poller.metrics.value("unparseable_messages_total", queue="on-prem-prices") == 1


def test_a_produce_kafka_refuses_leaves_the_message_on_the_queue(broker: TansuBroker, sqs: Any) -> None:
    # Given a book and a topic the broker does not have (auto-creation off) and a short delivery timeout
    queue_url = sqs.create_queue(QueueName="on-prem-prices-2")["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=book("P3", 1))
    poller = poller_for(
        broker,
        queue_url,
        sqs,
        topic="no-such-topic",
        KAFKA_PROPERTY_MESSAGE_TIMEOUT_MS="1500",
        KAFKA_PROPERTY_ALLOW_AUTO_CREATE_TOPICS="false",
    )

    # When the poller makes one pass
    deleted = poller.poll_once(queue_url)

    # Then nothing was deleted: the message comes back after its visibility timeout
    assert deleted == 0
    assert depth(sqs, queue_url) == (0, 1)
    assert poller.metrics.value("produce_errors_total", queue="on-prem-prices-2") == 1


class PartiallyFailingDeletes:
    """moto's SQS never fails part of a batch; this wrapper fails the first entry of each DeleteMessageBatch."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:  # noqa: N803
        failed, rest = Entries[0], Entries[1:]
        response = self.sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=rest) if rest else {"Successful": []}
        return {**response, "Failed": [{"Id": failed["Id"], "SenderFault": False, "Code": "InternalError"}]}


def test_a_partial_batch_delete_failure_keeps_the_failed_message_for_redelivery(broker: TansuBroker, sqs: Any) -> None:
    # Given two books and deletes that fail for the first entry of a batch
    queue_url = sqs.create_queue(QueueName="on-prem-prices-3")["QueueUrl"]
    for sequence in (1, 2):
        sqs.send_message(QueueUrl=queue_url, MessageBody=book("P4", sequence))
    poller = poller_for(broker, queue_url, PartiallyFailingDeletes(sqs))

    # When the poller makes one pass
    deleted = poller.poll_once(queue_url)

    # Then one was deleted, the other stays in flight (it will be produced again: at least once) and is counted
    assert deleted == 1
    assert depth(sqs, queue_url) == (0, 1)
    assert poller.metrics.value("delete_errors_total", queue="on-prem-prices-3") == 1
    assert poller.metrics.value("messages_produced_total", queue="on-prem-prices-3") == 2
