"""Environment configuration: defaults, pass-through Kafka properties, and errors that name the variable."""

from __future__ import annotations

import pytest

from onprem.settings import (
    API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS,
    SettingsError,
    forwarder_settings,
    poller_settings,
)

FORWARDER = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093,kafka-2:9093",
    "FEED_TOPIC": "sports-feed",
    "DEAD_LETTER_TOPIC": "sports-feed-dead-letters",
    "INGEST_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/feed-events",
    "AWS_REGION": "eu-west-1",
}
POLLER = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093",
    "OUTBOUND_TOPIC": "trading-prices",
    "SQS_QUEUE_URLS": "https://sqs.eu-west-1.amazonaws.com/111122223333/prices, https://sqs.eu-west-1.amazonaws.com/111122223333/settle",
    "AWS_REGION": "eu-west-1",
}


def test_the_forwarder_reads_its_settings_with_defaults_and_kafka_properties() -> None:
    # Given the required variables, a role and two librdkafka properties
    environ = {
        **FORWARDER,
        "FORWARDER_ROLE_ARN": "arn:aws:iam::111122223333:role/FeedForwarder",
        "KAFKA_PROPERTY_SECURITY_PROTOCOL": "SSL",
        "KAFKA_PROPERTY_SSL_CA_LOCATION": "/etc/kafka/ca.pem",
    }

    # When they are read
    settings = forwarder_settings(environ)

    # Then every default applies and the properties pass through under librdkafka's names
    assert (
        settings.group_id == "feed-forwarder" and settings.max_in_flight == 16 and settings.session_timeout_ms == 45000
    )
    assert settings.kafka.client_config() == {
        "bootstrap.servers": "kafka-1:9093,kafka-2:9093",
        "security.protocol": "SSL",
        "ssl.ca.location": "/etc/kafka/ca.pem",
    }
    assert settings.role_arn == "arn:aws:iam::111122223333:role/FeedForwarder"
    assert (settings.health.host, settings.health.port) == ("0.0.0.0", 8080)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FEED_TOPIC": ""}, "FEED_TOPIC: required, not set"),
        ({"INGEST_URL": "abc123.execute-api.amazonaws.com"}, "INGEST_URL: expected an http(s) URL"),
        ({"MAX_IN_FLIGHT": "lots"}, "MAX_IN_FLIGHT: expected a whole number, got 'lots'"),
        ({"MAX_IN_FLIGHT": "0"}, "MAX_IN_FLIGHT: must be between 1 and 256, got 0"),
        ({"MAX_BUFFERED": "4"}, "MAX_BUFFERED: must be at least MAX_IN_FLIGHT (16), got 4"),
        ({"RETRY_MAX_SECONDS": "0.01"}, "RETRY_MAX_SECONDS: must be at least RETRY_BASE_SECONDS"),
        ({"DEAD_LETTER_TOPIC": "sports-feed"}, "DEAD_LETTER_TOPIC: must differ from FEED_TOPIC"),
        ({"FORWARDER_ROLE_ARN": "FeedForwarder"}, "FORWARDER_ROLE_ARN: expected an IAM role ARN"),
        ({"KAFKA_SESSION_TIMEOUT_MS": "500"}, "KAFKA_SESSION_TIMEOUT_MS: must be at least 1000, got 500"),
        ({"KAFKA_PROPERTY_GROUP_ID": "other"}, "KAFKA_PROPERTY_GROUP_ID: set by the bridge itself"),
        ({"REQUEST_TIMEOUT_SECONDS": "10"}, "REQUEST_TIMEOUT_SECONDS: must be at least 30.0, got 10.0"),
        ({"COMMIT_INTERVAL_SECONDS": "soon"}, "COMMIT_INTERVAL_SECONDS: expected a number of seconds, got 'soon'"),
    ],
)
def test_a_bad_forwarder_variable_is_named_with_the_reason(change: dict[str, str], message: str) -> None:
    # When a variable is missing or malformed
    with pytest.raises(SettingsError) as raised:
        forwarder_settings({**FORWARDER, **change})

    # Then the error names it and says what is wrong
    assert str(raised.value).startswith(message)


def test_the_forwarder_waits_longer_for_an_answer_than_api_gateway_waits_for_the_workflow() -> None:
    # Given the required variables and no REQUEST_TIMEOUT_SECONDS
    settings = forwarder_settings(FORWARDER)

    # Then one ingest request may last past API Gateway's 29 s integration timeout, so the forwarder always gets the
    # API's own answer (at worst its 504) and never sends an event again while its first execution still runs
    assert API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS == 29.0
    assert settings.request_timeout_seconds > API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS
    assert forwarder_settings({**FORWARDER, "REQUEST_TIMEOUT_SECONDS": "30"}).request_timeout_seconds == 30.0


def test_the_poller_reads_several_queues_and_bounds_the_long_poll() -> None:
    # Given two queue URLs, comma-separated
    settings = poller_settings(POLLER)

    # Then both are polled, with SQS's longest poll and largest batch by default
    assert settings.queue_urls == (
        "https://sqs.eu-west-1.amazonaws.com/111122223333/prices",
        "https://sqs.eu-west-1.amazonaws.com/111122223333/settle",
    )
    assert (settings.wait_time_seconds, settings.max_messages) == (20, 10)

    # And SQS's own limits are enforced, naming the variable
    with pytest.raises(SettingsError, match="WAIT_TIME_SECONDS: must be between 0 and 20, got 21"):
        poller_settings({**POLLER, "WAIT_TIME_SECONDS": "21"})
    with pytest.raises(SettingsError, match="SQS_QUEUE_URLS: expected comma-separated queue URLs"):
        poller_settings({**POLLER, "SQS_QUEUE_URLS": "prices"})
