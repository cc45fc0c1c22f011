"""Pricing task of both workflows: what changed and the fixture's new state in, the price message out.

The feed workflow passes the applied feed event (``event``); the trader-command workflow passes ``source``,
naming the command. Trader settings (suspensions, margins, overrides) come with the fixture's state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from lambdas.adapters.dynamodb_json import from_dynamodb_item
from lambdas.logic.price_book import price_message
from lambdas.models.feed_events import FeedEvent
from lambdas.models.fixture_state import FixtureState
from lambdas.models.price_message import SourceEvent
from lambdas.observability import logger, metrics, tracer


class PricingTaskInput(BaseModel):
    """The workflows' PriceMarkets payload: ``event`` or ``source``, and ``fixture`` (DynamoDB typed JSON)."""

    model_config = ConfigDict(frozen=True)

    event: FeedEvent | None = None
    source: SourceEvent | None = None
    fixture: FixtureState

    @model_validator(mode="after")
    def _one_cause(self) -> PricingTaskInput:
        if (self.event is None) == (self.source is None):
            raise ValueError("give exactly one of event (a feed event) and source (a trader command)")
        return self

    @property
    def cause(self) -> SourceEvent:
        if self.event is None:
            assert self.source is not None  # _one_cause
            return self.source
        return SourceEvent(event_id=self.event.event_id, type=self.event.type, occurred_at=self.event.occurred_at)

    @field_validator("fixture", mode="before")
    @classmethod
    def _untyped(cls, value: Any) -> Any:
        return from_dynamodb_item(value) if isinstance(value, dict) else value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(
    payload: dict[str, Any], context: LambdaContext, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[str, Any]:
    task = PricingTaskInput.model_validate(payload)
    logger.append_keys(
        fixture_id=task.fixture.fixture_id, sequence=task.fixture.last_sequence, revision=task.fixture.revision
    )
    message = price_message(source=task.cause, state=task.fixture, generated_at=clock())
    metrics.add_metric(name="BooksPriced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="MarketsPriced", unit=MetricUnit.Count, value=len(message.markets))
    logger.info("book priced", status=message.status, markets=len(message.markets))
    return message.model_dump(mode="json")
