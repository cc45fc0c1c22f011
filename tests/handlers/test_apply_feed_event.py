"""The feed workflow's one Lambda against moto's DynamoDB: it reads the fixture (and a conflict's original book)
and answers what the workflow writes, stores and publishes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.handlers import apply_feed_event
from lambdas.logic import feed_task
from lambdas.models.price_message import PriceMessage
from tests.conftest import FakeLambdaContext
from tests.handlers.conftest import fixture_from_feed
from tests.unit.domain.feeds import FIXTURE_ID, NOW, clock, created, goal, phase, whole_match


@pytest.fixture
def tables(trading_tables: Any, powertools_env: None) -> Iterator[Any]:
    apply_feed_event.reset_cached_collaborators()
    yield trading_tables
    apply_feed_event.reset_cached_collaborators()


def _decide(event: Any, context: FakeLambdaContext, attempt: int = 0) -> dict[str, Any]:
    payload = {"event": event, "execution_id": "arn:aws:states:::execution:feed:x", "attempt": attempt}
    return apply_feed_event.handler(payload, context, clock=lambda: NOW)  # type: ignore[arg-type]


def _store(dynamodb: Any, events: list[dict[str, Any]]) -> None:
    dynamodb.put_item(TableName="Fixtures", Item=fixture_from_feed(events))


def test_a_goal_is_written_under_the_revision_and_its_book_suspends_the_markets(
    tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a fixture in play at revision 2
    _store(tables, [created(1), phase(2, "kick_off")])

    # When a home goal in minute 17 is decided
    answer = _decide(goal(3, "home", 17), lambda_context)

    # Then the workflow writes the changed attributes on condition the revision is still 2, and the book (one
    # JSON string, stored and published as is) is suspended at 1-0, naming its source
    assert (answer["route"], answer["outcome"]) == ("write", "applied")
    assert answer["write"]["values"][":expected_revision"] == {"N": "2"}
    book = answer["book_item"]["book"]["S"]
    message = PriceMessage.model_validate_json(book)
    assert (message.revision, message.score.home, message.status) == (3, 1, "suspended")
    assert message.source_event.event_id == "opta-0003" and message.generated_at == NOW
    assert "book" not in answer  # the book is in the state data once: the workflow publishes book_item.book.S
    assert answer["message_attributes"]["event_type"] == {"DataType": "String", "StringValue": "goal"}
    # ... small enough for one SNS message and IoT Core's 128 KB
    assert len(book.encode()) < 128 * 1024


def test_full_time_publishes_the_final_result_for_settlement(tables: Any, lambda_context: FakeLambdaContext) -> None:
    # Given a match in its second half
    _store(tables, whole_match()[:-1])

    # When full time is decided
    answer = _decide(whole_match()[-1], lambda_context)

    # Then the book is closed and states the final result, and SNS carries it as an attribute settlement filters on
    message = PriceMessage.model_validate_json(answer["book_item"]["book"]["S"])
    assert message.status == "closed" and message.result is not None
    assert (message.result.kind, message.result.revision) == ("final", 1)
    assert answer["message_attributes"]["result"]["StringValue"] == "final"


def test_a_conflicting_event_is_refused_with_the_original_read_from_its_book(
    tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a goal applied at sequence 3, its book stored with the event as received
    _store(tables, [created(1), phase(2, "kick_off"), goal(3, "home", 10)])
    original = json.dumps(goal(3, "home", 10), sort_keys=True, separators=(",", ":"))
    tables.put_item(
        TableName="Prices",
        Item={"fixture_id": {"S": FIXTURE_ID}, "revision": {"N": "3"}, "source_event_body": {"S": original}},
    )

    # When another event comes under sequence 3
    answer = _decide(goal(3, "away", 10), lambda_context)

    # Then it is refused as ConflictingDuplicate, the cause carrying the original event
    assert (answer["route"], answer["error"]) == ("reject", "ConflictingDuplicate")
    cause = json.loads(answer["cause"])
    assert cause["cause"].startswith("sequence: 3 was applied as event opta-0003")
    assert cause["original"] == json.loads(original)


@pytest.mark.parametrize(
    ("event", "route"),
    [(clock(4, 3), "duplicate"), (clock(3, 2), "stale"), (phase(9, "full_time"), "reject")],
)
def test_each_decision_has_its_route(
    event: dict[str, Any], route: str, tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a fixture in play after a clock tick (sequence 4), its book published
    _store(tables, [created(1), phase(2, "kick_off"), clock(4, 3)])
    tables.update_item(
        TableName="Fixtures",
        Key={"fixture_id": {"S": FIXTURE_ID}},
        UpdateExpression="SET published_revision = :r",
        ExpressionAttributeValues={":r": {"N": "3"}},
    )

    # When the event is decided, then the route says what the workflow does, and nothing is written
    answer = _decide(event, lambda_context)
    assert answer["route"] == route and "write" not in answer


def test_an_unreadable_fixture_item_is_refused_naming_the_attribute(
    tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a fixture item the workflows could not have written
    item = fixture_from_feed([created(1)]) | {"match_period": {"S": "extra_time"}}
    tables.put_item(TableName="Fixtures", Item=item)

    # When an event for it is decided
    answer = _decide(phase(2, "kick_off"), lambda_context)

    # Then it is refused, naming the attribute, instead of failing the function
    assert (answer["error"], answer["cause"].split(":")[0]) == ("UnreadableFixture", "match_period")


def test_a_write_that_kept_losing_races_is_refused_for_a_redrive(
    tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a fixture, and an event whose write lost the race MAX_WRITE_ATTEMPTS times already
    _store(tables, [created(1)])

    # When it is decided once more
    answer = _decide(phase(2, "kick_off"), lambda_context, attempt=feed_task.MAX_WRITE_ATTEMPTS)

    # Then it is quarantined as WriteContention
    assert (answer["route"], answer["error"]) == ("reject", "WriteContention")


def test_an_answer_over_the_state_data_budget_is_refused_not_lost(
    tables: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a state-data budget smaller than a book
    _store(tables, [created(1)])
    monkeypatch.setattr(feed_task, "ANSWER_BUDGET_BYTES", 1000)

    # When an event is decided
    answer = _decide(phase(2, "kick_off"), lambda_context)

    # Then it is quarantined as PayloadTooLarge: Step Functions' States.DataLimitExceeded could not be caught
    assert (answer["route"], answer["error"]) == ("reject", "PayloadTooLarge")


def test_the_answer_does_not_grow_with_the_fixture_item(tables: Any, lambda_context: FakeLambdaContext) -> None:
    # Given two fixtures in play, one carrying 1,500 expired overrides (what stopped every feed event of a fixture
    # with States.DataLimitExceeded when the workflows carried the whole item in their state)
    small = fixture_from_feed([created(1), phase(2, "kick_off")])
    stale_overrides = {
        f"override#correct_score#none#{n}-{n}": {
            "M": {"price": {"N": "9.5"}, "set_at": {"S": "2026-11-22T12:00:00Z"}, "for_seconds": {"N": "60"}}
        }
        for n in range(1500)
    }
    tables.put_item(TableName="Fixtures", Item=small)

    # When the same goal is decided against each
    lean = _decide(goal(3, "home", 17), lambda_context)
    tables.put_item(TableName="Fixtures", Item=small | stale_overrides)
    heavy = _decide(goal(3, "home", 17), lambda_context)

    # Then both answers are the same size, far inside the state-data budget: the item never enters the state
    assert len(json.dumps(heavy)) == len(json.dumps(lean)) < feed_task.ANSWER_BUDGET_BYTES / 4
