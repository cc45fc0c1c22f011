"""The feed workflow's one task: decide a feed event with the domain core, price the result, and tell the
workflow what to write, store and publish (statemachines/feed_event.asl.json routes on ``route``).

The answer carries no fixture item and no rule: the write is the changed attributes under the fixture's
revision (optimistic concurrency), the book is one JSON string that is stored and published byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from lambdas.adapters.dynamodb_json import from_dynamodb_item
from lambdas.domain.feed_rules import FeedDecision, ValidEvent, decide_valid_event, validate_feed_event
from lambdas.domain.fixture import FeedState
from lambdas.logic.fixture_publication import fixture_after, fixture_update, publication
from lambdas.logic.price_book import price_message
from lambdas.models.price_message import SourceEvent

Route = Literal["write", "publish", "duplicate", "stale", "reject"]
# After this many lost optimistic-concurrency races the event is quarantined (WriteContention) for a redrive.
MAX_WRITE_ATTEMPTS = 3
# Step Functions refuses state data over 256 KB with States.DataLimitExceeded, which no Catch can handle
# ("States.ALL does not catch States.DataLimitExceeded": Step Functions developer guide, error handling).
# The answer is the largest thing in the state; above this budget the event is quarantined instead.
ANSWER_BUDGET_BYTES = 200_000
OUTCOME_ROUTES: dict[str, Route] = {
    "applied": "write",
    "late_counted": "write",
    "duplicate": "duplicate",
    "stale": "stale",
    "conflict": "reject",
    "illegal_transition": "reject",
    "invalid": "reject",
}


@dataclass(frozen=True)
class FeedTask:
    """What the workflow passes: the raw event, its execution's id (for the publication claim) and how many
    times a write for it lost a race already."""

    event: Any
    execution_id: str
    attempt: int = 0


def run_feed_task(
    task: FeedTask,
    *,
    read_fixture: Callable[[str], dict[str, Any] | None],
    read_applied_event: Callable[[str, int], str | None],
    now: datetime,
) -> dict[str, Any]:
    """The workflow's answer for one feed event (see the module docstring for its shape)."""
    valid = validate_feed_event(task.event, now=now)
    if isinstance(valid, FeedDecision):
        return _reject(valid, task)
    item = read_fixture(valid.event.fixture_id)
    # Converted once: the decision, the write's changes and the book all read the same stored values.
    stored = None if item is None else from_dynamodb_item(item)
    try:
        state = None if stored is None else FeedState.model_validate(stored)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"])
        return _answer("reject", task, error="UnreadableFixture", cause=f"{location}: {first['msg']}")
    decision = decide_valid_event(state, valid, now=now)
    route = "publish" if decision.republish else OUTCOME_ROUTES[decision.outcome]
    if route == "reject":
        original = None
        if decision.original is not None:
            body = read_applied_event(valid.event.fixture_id, decision.original.revision)
            original = json.loads(body) if body else None
        return _reject(decision, task, original=original)
    if route in ("duplicate", "stale"):
        return _answer(route, task, outcome=decision.outcome, reason=decision.reason)
    if route == "write" and task.attempt >= MAX_WRITE_ATTEMPTS:
        return _answer(
            "reject",
            task,
            error="WriteContention",
            cause=f"revision: the fixture changed under {MAX_WRITE_ATTEMPTS} attempts to write this event",
        )
    assert decision.state is not None  # applied, late_counted and republish carry the new state
    attributes = decision.state.attributes()
    answer = _answer(
        route,
        task,
        outcome=decision.outcome,
        **_book(decision, attributes, stored or {}, valid, task.execution_id),
    )
    if route == "write":
        answer["write"] = fixture_write(decision.state, attributes, stored)
    if len(json.dumps(answer)) > ANSWER_BUDGET_BYTES:
        return _answer("reject", task, error="PayloadTooLarge", cause=f"book: over {ANSWER_BUDGET_BYTES} bytes")
    return answer


def fixture_write(state: FeedState, attributes: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """The UpdateItem that stores ``state`` (its ``attributes``): only what differs from the ``stored`` item (plain
    values; None when there is none), under the revision it was decided on."""
    before = stored or {}
    sets: dict[str, Any] = {}
    removes: list[str] = []
    for name, value in attributes.items():
        if name == "fixture_id" or (name in before and before[name] == value):
            continue
        if value is None:
            if name in before:
                removes.append(name)
        else:
            sets[name] = value
    return fixture_update(
        state.fixture_id, sets, removes, expected_revision=None if stored is None else state.revision - 1
    )


def _book(
    decision: FeedDecision, attributes: dict[str, Any], stored: dict[str, Any], valid: ValidEvent, execution_id: str
) -> dict[str, Any]:
    """The priced book of the decided state, with what stores, claims and publishes it."""
    assert decision.state is not None
    state = decision.state
    event = valid.event
    message = price_message(
        source=SourceEvent(event_id=event.event_id, type=event.type, occurred_at=event.occurred_at),
        state=fixture_after(stored, attributes, ()),
        generated_at=state.updated_at,
        result=_result(state),
    )
    return publication(message, event_type=event.type, execution_id=execution_id, source_event_body=valid.canonical)


def _result(state: FeedState) -> dict[str, Any] | None:
    """A finished match's result: the final one (revision 1) or a correction of it."""
    if state.result_revision == 0:
        return None
    return {"kind": "final" if state.result_revision == 1 else "correction", "revision": state.result_revision}


def _reject(decision: FeedDecision, task: FeedTask, *, original: Any = None) -> dict[str, Any]:
    cause = decision.cause
    if decision.outcome == "conflict":
        cause = json.dumps({"cause": cause, "original": original}, separators=(",", ":"))
    return _answer("reject", task, outcome=decision.outcome, error=decision.error, cause=cause)


def _answer(route: Route, task: FeedTask, **fields: Any) -> dict[str, Any]:
    return {"route": route, "attempt": task.attempt + 1, **fields}
