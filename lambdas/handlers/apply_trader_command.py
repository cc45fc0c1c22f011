"""The trader-command workflow's one Lambda: validate and decide a trader command with the domain core, and
price the fixture's new book.

It reads the fixture itself (strongly consistent), so the whole item never enters the workflow's state data; the
workflow audits and writes what it answers (lambdas/logic/trader_task.py), under the fixture's revision. A refusal
is an answer, not a failure of this function: raising would count as a Lambda error and page operations for a
trader's typo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.adapters.fixture_store import FixtureStore, default_fixture_store
from lambdas.logic.trader_task import TraderTask, run_trader_task
from lambdas.observability import logger, tracer


class TraderTaskInput(BaseModel):
    """The workflow's payload: the API's request as received, the execution, and lost write races so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: Any
    execution_id: Annotated[str, Field(min_length=1)]
    execution_name: Annotated[str, Field(min_length=1)]
    started_at: Annotated[str, Field(min_length=1)]
    attempt: Annotated[int, Field(ge=0)] = 0


def reset_cached_collaborators() -> None:
    """Forget the environment and client read at cold start (tests change both)."""
    default_fixture_store.cache_clear()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(
    payload: dict[str, Any],
    context: LambdaContext,
    *,
    store: FixtureStore | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    task = TraderTaskInput.model_validate(payload)
    store = store or default_fixture_store()
    answer = run_trader_task(
        TraderTask(
            request=task.request,
            execution_id=task.execution_id,
            execution_name=task.execution_name,
            started_at=task.started_at,
            attempt=task.attempt,
        ),
        read_fixture=store.fixture,
        now=clock(),
    )
    if answer["route"] == "refuse":
        logger.info("trader command refused", error=answer["error"], cause=answer["cause"])
    else:
        logger.info("trader command decided", route=answer["route"], outcome=answer["outcome"])
    return answer
