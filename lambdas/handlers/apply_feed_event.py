"""The feed workflow's one Lambda: decide a feed event with the domain core and price the fixture's new book.

It reads the fixture itself (strongly consistent), so the whole item never enters the workflow's state data;
the workflow writes what it answers (lambdas/logic/feed_task.py), under the fixture's revision.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.adapters.fixture_store import FixtureStore, default_fixture_store
from lambdas.logic.feed_task import FeedTask, run_feed_task
from lambdas.observability import logger, metrics, tracer


class FeedTaskInput(BaseModel):
    """The workflow's payload: the event as received, the execution's id, and lost write races so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event: Any
    execution_id: Annotated[str, Field(min_length=1)]
    attempt: Annotated[int, Field(ge=0)] = 0


def reset_cached_collaborators() -> None:
    """Forget the environment and client read at cold start (tests change both)."""
    default_fixture_store.cache_clear()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(
    payload: dict[str, Any],
    context: LambdaContext,
    *,
    store: FixtureStore | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    task = FeedTaskInput.model_validate(payload)
    store = store or default_fixture_store()
    answer = run_feed_task(
        FeedTask(event=task.event, execution_id=task.execution_id, attempt=task.attempt),
        read_fixture=store.fixture,
        read_applied_event=store.applied_event,
        now=clock(),
    )
    outcome = answer.get("outcome") or answer["route"]
    metrics.add_metric(name=f"FeedEvents_{outcome}", unit=MetricUnit.Count, value=1)
    if answer["route"] == "reject":
        metrics.add_metric(name=f"FeedEventsRefused_{answer['error']}", unit=MetricUnit.Count, value=1)
        logger.info("feed event refused", error=answer["error"], cause=answer["cause"])
    else:
        logger.info("feed event decided", route=answer["route"], outcome=outcome)
    return answer
