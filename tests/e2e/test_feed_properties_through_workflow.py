"""The domain core's property (tests/unit/domain/test_feed_properties.py) run through the real feed workflow in the
local engine: a short legal match delivered with duplicates, adjacent swaps of in-play incidents, conflicting
copies and strays ends, in DynamoDB and on the on-prem queues, where the same events applied once each in sequence
order end."""

from __future__ import annotations

import functools
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from lambdas.adapters.dynamodb_json import from_dynamodb_item
from lambdas.domain.fixture import FeedState
from local_engine.engine import LocalEngine, Outcome, OutcomeKind
from tests.e2e.conftest import queue_bodies_for
from tests.unit.domain.feeds import play
from tests.unit.domain.test_feed_properties import _projection, deliveries

pytestmark = pytest.mark.slow

# Each example is one fixture played event by event through the workflow: a few short matches keep this tier fast
# (the unit tier runs the same property on 150 examples of any length).
SHORT_DELIVERIES = deliveries().filter(lambda feed: len(feed[1]) <= 14)
THROUGH_THE_WORKFLOW = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much, HealthCheck.too_slow],
)
# The engine's accounting of the core's decisions (docs/feed-events.md, Decisions; nothing is republished here:
# every book of this feed goes out the first time).
KIND_OF_DECISION: dict[str, OutcomeKind] = {
    "applied": "applied",
    "late_counted": "applied",
    "duplicate": "skipped",
    "stale": "skipped",
    "conflict": "quarantined",
    "illegal_transition": "quarantined",
    "invalid": "quarantined",
}
_fixture_numbers = itertools.count(1)


def _for_fixture(fixture_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**raw, "fixture_id": fixture_id} for raw in events]


def _play_through(engine: LocalEngine, events: list[dict[str, Any]]) -> list[Outcome | None]:
    """Each event submitted in delivery order (one fixture's events run one at a time, in that order)."""
    outcomes: list[Outcome | None] = [None] * len(events)
    for index, raw in enumerate(events):
        engine.submit(raw, functools.partial(outcomes.__setitem__, index))
    engine.drain()
    return outcomes


@THROUGH_THE_WORKFLOW
@given(feed=SHORT_DELIVERIES)
def test_any_delivery_through_the_workflow_ends_in_the_in_order_state(
    engine: LocalEngine, feed: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    # Given a fixture of this example's own, its events in sequence order and as delivered
    fixture_id = f"E2E-PROPERTY-{next(_fixture_numbers)}"
    in_order, delivered = (_for_fixture(fixture_id, events) for events in feed)
    expected, _ = play(in_order)
    _, decisions = play(delivered)
    assert expected is not None

    # When the delivered feed is played through the workflow
    outcomes = _play_through(engine, delivered)

    # Then every event has exactly one outcome, the one the core decides for it in this delivery order
    assert all(outcome is not None for outcome in outcomes)
    assert [o.kind for o in outcomes if o is not None] == [KIND_OF_DECISION[d.outcome] for d in decisions]
    # ...the fixture item ends where the in-order feed ends
    item = engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]
    actual = FeedState.model_validate(from_dynamodb_item(item))
    assert _projection(actual) == _projection(expected)
    # ...each write produced one book on the on-prem prices queue: revisions strictly increasing, the newest one
    # the fixture's revision, with the final score
    books = sorted(queue_bodies_for(engine, "OnPremPricesQueue", fixture_id), key=lambda book: book["revision"])
    revisions = [book["revision"] for book in books]
    assert len(books) == sum(d.writes for d in decisions)
    assert all(older < newer for older, newer in itertools.pairwise(revisions)), revisions
    final_score = {"home": expected.home_score, "away": expected.away_score}
    assert (books[-1]["revision"], books[-1]["score"]) == (actual.revision, final_score)
    # ...and settlement's newest result (highest result revision) is the final score
    settled = queue_bodies_for(engine, "OnPremSettlementQueue", fixture_id)
    if expected.match_period == "full_time":
        newest = max(settled, key=lambda book: book["result"]["revision"])
        assert (newest["score"], newest["result"]["revision"]) == (final_score, expected.result_revision)
    else:
        assert settled == []
