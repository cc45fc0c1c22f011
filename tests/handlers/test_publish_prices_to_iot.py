"""The IoT bridge against moto's IoT Core: SNS notification in, MQTT publish on the fixture's topic out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends
from pydantic import ValidationError

from lambdas.adapters.dynamodb_json import from_dynamodb_item
from lambdas.adapters.iot_publisher import iot_data_client
from lambdas.handlers import publish_prices_to_iot
from lambdas.logic.price_book import price_message
from lambdas.models.fixture_state import FixtureState
from lambdas.models.price_message import SourceEvent
from tests.conftest import FakeLambdaContext
from tests.handlers.conftest import fixture_item, sample

# moto intercepts iot-data calls only on the generic host, not on an account's own ATS endpoint (a limit
# of the fake): publishing tests pin it; the lookup of the account endpoint is tested on its own below.
MOTO_IOT_DATA_ENDPOINT = "data-ats.iot.eu-west-1.amazonaws.com"


@pytest.fixture
def bridge_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IOT_TOPIC_PREFIX", "trading/v1/fixtures")
    publish_prices_to_iot.reset_cached_collaborators()
    yield
    publish_prices_to_iot.reset_cached_collaborators()


def _price_message(lambda_context: FakeLambdaContext, **fixture_changes: Any) -> str:
    """A book as the workflows publish it: a goal's, priced from a fixture item."""
    goal = sample("goal")
    message = price_message(
        source=SourceEvent(event_id=goal["event_id"], type=goal["type"], occurred_at=goal["occurred_at"]),
        state=FixtureState.model_validate(from_dynamodb_item(fixture_item(**fixture_changes))),
        generated_at=datetime(2026, 11, 22, 15, 17, 32, tzinfo=UTC),
    )
    return message.model_dump_json()


def _sns_notification(*messages: str) -> dict[str, Any]:
    """An SNS -> Lambda event as AWS delivers it (message attributes as the workflow sets them)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:prices:0f1d",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"id-{index}",
                    "TopicArn": "arn:aws:sns:eu-west-1:123456789012:prices",
                    "Subject": None,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "SignatureVersion": "1",
                    "Signature": "c2lnbmF0dXJl",
                    "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/unsubscribe",
                    "MessageAttributes": {
                        "fixture_id": {"Type": "String", "Value": json.loads(message)["fixture_id"]},
                        "event_type": {"Type": "String", "Value": "goal"},
                    },
                },
            }
            for index, message in enumerate(messages)
        ]
    }


def _published() -> list[tuple[str, bytes]]:
    return iotdata_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].published_payloads


def test_publishes_each_book_to_its_fixture_topic(
    bridge_env: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a price message for one fixture
    monkeypatch.setenv("IOT_DATA_ENDPOINT", MOTO_IOT_DATA_ENDPOINT)
    message = _price_message(lambda_context)

    # When the bridge receives it from SNS
    result = publish_prices_to_iot.handler(_sns_notification(message), lambda_context)

    # Then it is on trading/v1/fixtures/{fixture_id}/prices, unchanged
    assert result == {"published": ["trading/v1/fixtures/EPL-2026-ARS-CHE/prices"]}
    assert _published() == [("trading/v1/fixtures/EPL-2026-ARS-CHE/prices", message.encode())]


def test_publishes_at_qos1_without_retain(bridge_env: None, lambda_context: FakeLambdaContext) -> None:
    # Given a publisher over a client that records its calls (moto does not keep retain or qos)
    calls: list[dict[str, Any]] = []

    class RecordingClient:
        def publish(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    publisher = publish_prices_to_iot.IotPublisher(RecordingClient())

    # When the bridge publishes a book
    publish_prices_to_iot.handler(
        _sns_notification(_price_message(lambda_context)), lambda_context, publisher=publisher
    )

    # Then it goes at QoS 1 and is not retained: IoT Core would hand a retained book to no wildcard subscriber (the
    # console's one filter), would refuse it without iot:RetainPublish, and would meter it extra
    assert len(calls) == 1 and calls[0]["retain"] is False and calls[0]["qos"] == 1


def test_configured_endpoint_is_used_without_lookup(
    bridge_env: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an explicit data endpoint (as the local engine sets it)
    monkeypatch.setenv("IOT_DATA_ENDPOINT", "abc123-ats.iot.eu-west-1.amazonaws.com")

    # When the bridge builds its client
    client = publish_prices_to_iot._default_publisher()._client

    # Then it talks to that endpoint
    assert client.meta.endpoint_url == "https://abc123-ats.iot.eu-west-1.amazonaws.com"


def test_lookup_finds_the_account_ats_endpoint(bridge_env: None) -> None:
    # Given no configured endpoint, and an IoT control-plane client that records what it is asked
    # (moto invents a new address on every DescribeEndpoint call, so it cannot be compared)
    asked: list[str] = []

    class IotControlPlane:
        def describe_endpoint(self, endpointType: str) -> dict[str, str]:  # noqa: N803 - boto3's name
            asked.append(endpointType)
            return {"endpointAddress": "a1b2c3-ats.iot.eu-west-1.amazonaws.com"}

    # When the bridge's adapter builds its data client
    client = iot_data_client(None, iot_client=IotControlPlane())

    # Then it asked for the ATS data endpoint and uses it
    assert asked == ["iot:Data-ATS"]
    assert client.meta.endpoint_url == "https://a1b2c3-ats.iot.eu-west-1.amazonaws.com"


def test_moto_describe_endpoint_feeds_a_working_client(bridge_env: None) -> None:
    # Given moto's IoT, which answers DescribeEndpoint with an ATS address
    address = boto3.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]

    # Then the default publisher comes up without configuration and points at an ATS data endpoint
    client = publish_prices_to_iot._default_publisher()._client
    assert client.meta.endpoint_url.endswith("-ats.iot.eu-west-1.amazonaws.com") and address.endswith(
        "-ats.iot.eu-west-1.amazonaws.com"
    )


def test_invalid_message_raises_so_lambda_retries(
    bridge_env: None, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an SNS message that is not a price message
    monkeypatch.setenv("IOT_DATA_ENDPOINT", MOTO_IOT_DATA_ENDPOINT)
    notification = _sns_notification(json.dumps({"fixture_id": "EPL-2026-ARS-CHE", "odds": 2.0}))

    # Then the bridge raises (Lambda retries, then the failure destination keeps it) and publishes nothing
    with pytest.raises(ValidationError, match="sequence"):
        publish_prices_to_iot.handler(notification, lambda_context)
    assert _published() == []


def test_fixture_id_cannot_inject_topic_levels() -> None:
    # Given fixture ids with MQTT separators or wildcards
    from lambdas.logic.iot_topics import price_subscription, price_topic

    # Then no topic is built from them, and a normal id lands under the one subscription filter
    for hostile in ("a/b", "+", "#", "", "x" * 49):
        with pytest.raises(ValueError, match="fixture_id"):
            price_topic("trading/v1/fixtures", hostile)
    assert price_topic("trading/v1/fixtures", "FX-1") == "trading/v1/fixtures/FX-1/prices"
    assert price_subscription("trading/v1/fixtures") == "trading/v1/fixtures/+/prices"


def test_topic_depth_is_checked_against_iot_limit() -> None:
    # Given a prefix so deep that the price topic would exceed IoT Core's 7 slashes
    from lambdas.logic.iot_topics import price_topic

    # Then building the topic fails with the reason
    with pytest.raises(ValueError, match="more than 7 slashes"):
        price_topic("a/b/c/d/e/f/g", "FX-1")
    assert price_topic("a/b/c/d/e/f", "FX-1").count("/") == 7


def _emitted_metrics(output: str) -> dict[str, Any]:
    """The CloudWatch embedded-metric-format document with the bridge's metrics (a cold start adds its own)."""
    (document,) = [json.loads(line) for line in output.splitlines() if '"FeedToIotLatency"' in line]
    return document


def test_end_to_end_latency_is_feed_time_to_publish_time(
    bridge_env: None, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a book priced from a feed event that occurred 2.5 s ago
    occurred_at = datetime.now(UTC) - timedelta(milliseconds=2500)
    book = json.loads(_price_message(lambda_context))
    book["source_event"]["occurred_at"] = occurred_at.isoformat()
    publisher = publish_prices_to_iot.IotPublisher(_DiscardingClient())
    capsys.readouterr()

    # When the bridge publishes it
    publish_prices_to_iot.handler(_sns_notification(json.dumps(book)), lambda_context, publisher=publisher)

    # Then the metric the dashboard and the latency alarm read is about 2.5 s, in milliseconds
    document = _emitted_metrics(capsys.readouterr().out)
    (definitions,) = document["_aws"]["CloudWatchMetrics"]
    units = {metric["Name"]: metric["Unit"] for metric in definitions["Metrics"]}
    assert units["FeedToIotLatency"] == "Milliseconds"
    (latency_ms,) = document["FeedToIotLatency"]
    assert 2500 <= latency_ms < 2500 + 5000


def test_a_feed_clock_ahead_of_aws_reports_zero_not_negative(
    bridge_env: None, lambda_context: FakeLambdaContext, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a feed event stamped 10 s in the future (the feed's clock runs ahead)
    book = json.loads(_price_message(lambda_context))
    book["source_event"]["occurred_at"] = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    capsys.readouterr()

    # When the bridge publishes it
    publish_prices_to_iot.handler(
        _sns_notification(json.dumps(book)),
        lambda_context,
        publisher=publish_prices_to_iot.IotPublisher(_DiscardingClient()),
    )

    # Then the latency is clamped at zero, so a skewed clock cannot pull the percentiles below the truth
    assert _emitted_metrics(capsys.readouterr().out)["FeedToIotLatency"] == [0.0]


class _DiscardingClient:
    """An IoT data client that accepts every publish (these tests look at the metrics, not the broker)."""

    def publish(self, **_: Any) -> None:
        return None
