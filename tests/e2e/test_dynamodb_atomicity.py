"""Conditional writes are atomic in the local engine, as in DynamoDB (local_engine/dynamodb_atomicity.py).

moto 5.2.5 checks a condition and applies the write in two steps, so two racing writes conditional on the same
``revision`` could both succeed there, which DynamoDB never allows. These tests race many writers on ONE fixture
and fail if any write is lost.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from local_engine.engine import LocalEngine
from tests.e2e.conftest import match_events

pytestmark = pytest.mark.slow
RACERS = 12  # writers on one item
ROUNDS = 3  # fixtures raced at once: without the lock, each loses a write about two times in three


@pytest.fixture
def fine_grained_thread_switching() -> Iterator[None]:
    """Switch threads every microsecond instead of every 5 ms, so that a race window of moto's shows up at once."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def _fixture_item(engine: LocalEngine, fixture_id: str) -> dict:
    return engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]


def test_racing_conditional_updates_of_one_item_each_win_once(
    engine: LocalEngine, fine_grained_thread_switching: None
) -> None:
    # Given one item at version 0, and writers that each read it and write version + 1 conditional on what they read
    # (optimistic locking, retrying on ConditionalCheckFailedException)
    table = engine.table_name("Fixtures")
    key = {"fixture_id": {"S": "E2E-ATOMIC-COUNTER"}}
    dynamodb = engine.client("dynamodb")
    dynamodb.put_item(TableName=table, Item={**key, "revision": {"N": "0"}, "writers": {"L": []}})
    start = threading.Barrier(RACERS)

    def write_once(writer: int) -> int:
        start.wait()
        while True:
            read = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
            revision = int(read["revision"]["N"])
            try:
                dynamodb.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET revision = :next, writers = list_append(writers, :me)",
                    ConditionExpression="revision = :read",
                    ExpressionAttributeValues={
                        ":read": {"N": str(revision)},
                        ":next": {"N": str(revision + 1)},
                        ":me": {"L": [{"N": str(writer)}]},
                    },
                )
                return revision + 1
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    # When they all write at once, each until it wins
    with ThreadPoolExecutor(RACERS) as pool:
        won = sorted(pool.map(write_once, range(RACERS)))

    # Then each revision was won by exactly one writer, and no write was lost
    item = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert won == list(range(1, RACERS + 1))
    assert int(item["revision"]["N"]) == RACERS
    assert sorted(int(w["N"]) for w in item["writers"]["L"]) == list(range(RACERS))


def _stored_revisions(engine: LocalEngine, fixture_id: str) -> list[int]:
    items = engine.client("dynamodb").query(
        TableName=engine.table_name("Prices"),
        KeyConditionExpression="fixture_id = :f",
        ExpressionAttributeValues={":f": {"S": fixture_id}},
        ConsistentRead=True,
    )["Items"]
    return sorted(int(item["revision"]["N"]) for item in items)


def test_concurrent_goals_of_one_fixture_are_each_counted_once_under_its_revision(
    engine: LocalEngine, fine_grained_thread_switching: None
) -> None:
    # Given matches in play, and for each RACERS goals with sequences of their own, to be started at once (as
    # redeliveries or a second caller would overlap them; the engine's own queue runs one fixture's events one at a
    # time, the ingest API does not)
    fixtures = [f"E2E-ATOMIC-GOALS-{round_}" for round_ in range(ROUNDS)]
    before: dict[str, int] = {}
    starts: list[tuple[str, dict]] = []
    for fixture_id in fixtures:
        create, kick_off, clock, goal, *_ = match_events(fixture_id)
        for event in (create, kick_off, clock):
            assert engine.run(event).kind == "applied"
        before[fixture_id] = int(_fixture_item(engine, fixture_id)["revision"]["N"])
        for n in range(RACERS):
            event = dict(goal, sequence=100 + n, event_id=f"{fixture_id}-goal-{n}", team="home", minute=20)
            starts.append((f"feed-{fixture_id}-{event['sequence']}", event))

    # When every goal's execution is started concurrently, straight into the workflow
    with ThreadPoolExecutor(len(starts)) as pool:
        list(
            pool.map(
                lambda start: engine.start_execution_named(
                    engine.feed_state_machine_arn, start[0], json.dumps(start[1])
                ),
                starts,
            )
        )
    engine.drain()

    # Then each goal either won one write (one more revision and one stored book per goal, the score counting it)
    # or lost the race MAX_WRITE_ATTEMPTS times and was quarantined for a redrive; none was applied twice or lost
    outcomes = {o.execution_name: o for o in engine.outcomes if o.execution_name in dict(starts)}
    assert len(outcomes) == len(starts)
    published = [message["Body"] for message in engine.receive_all("OnPremPricesQueue")]
    for fixture_id in fixtures:
        mine = [o for o in outcomes.values() if o.event["fixture_id"] == fixture_id]
        applied = [o for o in mine if o.kind == "applied"]
        refused = [o for o in mine if o.kind != "applied"]
        assert all(o.reason is not None and o.reason.startswith("WriteContention") for o in refused), refused
        item = _fixture_item(engine, fixture_id)
        assert int(item["revision"]["N"]) == before[fixture_id] + len(applied), fixture_id
        assert int(item["home_score"]["N"]) == len(applied), fixture_id
        revisions = [r for r in _stored_revisions(engine, fixture_id) if r > before[fixture_id]]
        assert revisions == list(range(before[fixture_id] + 1, before[fixture_id] + len(applied) + 1)), fixture_id
        books = [b for b in published if b["fixture_id"] == fixture_id and b["sequence"] >= 100]
        assert len({b["revision"] for b in books}) == len(books) <= len(applied)
    # ...and the goals did race: writes lost to others and were decided again
    assert any("DecideAgain" in [s.name for s in engine.trace(o.execution_arn)] for o in outcomes.values())
