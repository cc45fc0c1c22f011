"""Pricing task of the feed workflow: the applied event and the fixture's new state in, the price message out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdas.adapters.dynamodb_json import from_dynamodb_item
from lambdas.logic.price_book import price_message
from lambdas.models.feed_events import FeedEvent
from lambdas.models.fixture_state import FixtureState
from lambdas.observability import logger, metrics, tracer


class PricingTaskInput(BaseModel):
    """The workflow's PriceMarkets payload: ``$.event`` and ``$.applied.fixture`` (DynamoDB typed JSON)."""

    model_config = ConfigDict(frozen=True)

    event: Annotated[FeedEvent, Field()]
    fixture: FixtureState

    @field_validator("fixture", mode="before")
    @classmethod
    def _untyped(cls, value: Any) -> Any:
        return from_dynamodb_item(value) if isinstance(value, dict) else value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(
    payload: dict[str, Any], context: LambdaContext, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[str, Any]:
    task = PricingTaskInput.model_validate(payload)
    logger.append_keys(fixture_id=task.fixture.fixture_id, sequence=task.fixture.last_sequence)
    message = price_message(event=task.event, state=task.fixture, generated_at=clock())
    metrics.add_metric(name="BooksPriced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MarketsPriced", unit=MetricUnit.Count, value=len(message.markets))
    logger.info("book priced", status=message.status, markets=len(message.markets))
    return message.model_dump(mode="json")
