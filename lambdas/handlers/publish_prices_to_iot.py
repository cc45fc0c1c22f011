"""The IoT bridge: each price message from SNS goes to its fixture's MQTT topic in IoT Core."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.adapters.iot_publisher import IotPublisher, iot_data_client
from lambdas.logic.iot_topics import price_topic
from lambdas.models.env import IotBridgeEnv
from lambdas.models.price_message import PriceMessage
from lambdas.observability import logger, metrics, tracer


@cache
def _environment() -> IotBridgeEnv:
    return IotBridgeEnv.model_validate(dict(os.environ))


@cache
def _default_publisher() -> IotPublisher:
    return IotPublisher(iot_data_client(_environment().IOT_DATA_ENDPOINT))


def reset_cached_collaborators() -> None:
    """Forget the environment and client read at cold start (tests change both)."""
    _environment.cache_clear()
    _default_publisher.cache_clear()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext, *, publisher: IotPublisher | None = None) -> dict[str, Any]:
    """Republish every record; an invalid message or a failed publish raises, so Lambda retries the event
    and finally hands it to the failure destination: nothing is dropped silently."""
    notification = parse(event=event, model=SnsModel)
    publisher = publisher or _default_publisher()
    prefix = _environment().IOT_TOPIC_PREFIX
    topics = []
    for record in notification.Records:
        body = record.Sns.Message
        if not isinstance(body, str):  # Powertools types the field str | model; SNS always delivers text
            raise TypeError(f"Sns.Message: expected the message text, got {type(body).__name__}")
        message = PriceMessage.model_validate_json(body)
        topic = price_topic(prefix, message.fixture_id)
        publisher.publish(topic, body.encode())
        topics.append(topic)
        latency_ms = (datetime.now(UTC) - message.source_event.occurred_at).total_seconds() * 1000
        metrics.add_metric(name="PricesPublishedToIot", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="FeedToIotLatency", unit=MetricUnit.Milliseconds, value=max(latency_ms, 0.0))
        logger.info("price published to IoT", fixture_id=message.fixture_id, sequence=message.sequence, topic=topic)
    return {"published": topics}
