"""Feed events through the deployed workflow, run locally: state, prices, queues, MQTT, ordering and faults."""

from __future__ import annotations

import json

import pytest

from local_engine.engine import LocalEngine
from local_engine.faults import FaultPlan, FaultSpec
from tests.e2e.conftest import MqttSubscriber, match_events, queue_bodies_for

pytestmark = pytest.mark.slow


def _run_all(engine: LocalEngine, events: list) -> list:
    """Play events and return their outcomes in the order submitted (fixtures run concurrently)."""
    outcomes: list = [None] * len(events)
    for index, event in enumerate(events):
        engine.submit(event, lambda outcome, index=index: outcomes.__setitem__(index, outcome))
    engine.drain()
    return outcomes


def test_a_match_reaches_dynamodb_every_queue_and_mqtt(engine: LocalEngine, subscriber: MqttSubscriber) -> None:
    # Given a whole match for one fixture (the documented samples)
    fixture_id = "E2E-WHOLE-MATCH"
    events = match_events(fixture_id)

    # When the feed is played through the engine
    outcomes = _run_all(engine, events)

    # Then every event was applied and priced
    assert [o.kind for o in outcomes] == ["applied"] * len(events)
    # ...the fixture's state holds the match as it ended
    item = engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]
    assert item["match_phase"] == {"S": "full_time"}
    assert (item["home_score"], item["away_score"], item["away_red_cards"]) == ({"N": "1"}, {"N": "0"}, {"N": "1"})
    assert item["last_sequence"] == item["published_sequence"] == {"N": str(len(events))}
    # ...every book is stored, keyed by its sequence
    stored = engine.client("dynamodb").query(
        TableName=engine.table_name("Prices"),
        KeyConditionExpression="fixture_id = :f",
        ExpressionAttributeValues={":f": {"S": fixture_id}},
    )["Items"]
    assert sorted(int(i["sequence"]["N"]) for i in stored) == list(range(1, len(events) + 1))
    # ...the on-prem price queue got every book in order, and settlement only the full-time one
    books = queue_bodies_for(engine, "OnPremPricesQueue", fixture_id)
    assert [book["sequence"] for book in books] == list(range(1, len(events) + 1))
    settlement = queue_bodies_for(engine, "OnPremSettlementQueue", fixture_id)
    assert [(book["sequence"], book["status"]) for book in settlement] == [(len(events), "closed")]
    # ...and a real MQTT client with one wildcard subscription received every book on the fixture's topic
    received = subscriber.wait_for(fixture_id, len(events))
    assert [book["sequence"] for book in received] == list(range(1, len(events) + 1))
    topics = {topic for topic, body, _ in subscriber.messages if body["fixture_id"] == fixture_id}
    assert topics == {f"trading/v1/fixtures/{fixture_id}/prices"}
    assert subscriber.subscriptions == 1


def test_out_of_order_and_duplicate_events_never_publish_stale_prices(
    engine: LocalEngine, subscriber: MqttSubscriber
) -> None:
    # Given a feed that repeats events and delivers a clock tick after a newer event
    fixture_id = "E2E-ORDERING"
    create, kick_off, clock, goal, *_ = match_events(fixture_id)
    newer_clock = dict(clock, sequence=5, event_id=f"{fixture_id}-5", minute=18)
    feed = [create, kick_off, kick_off, goal, newer_clock, clock, goal, create]

    # When it is played
    outcomes = _run_all(engine, feed)

    # Then repeats are skipped as duplicates (the fixture remembers its recent events, the creation among them),
    # the overtaken tick as stale, and published sequences only ever go up
    assert [o.final_state for o in outcomes] == [
        "PricesPublished",
        "PricesPublished",
        "SkippedAsDuplicate",
        "PricesPublished",
        "PricesPublished",
        "SkippedAsStale",
        "SkippedAsDuplicate",
        "SkippedAsDuplicate",
    ]
    published = [book["sequence"] for book in subscriber.wait_for(fixture_id, 4)]
    assert published == [1, 2, 4, 5]
    assert [b["sequence"] for b in queue_bodies_for(engine, "OnPremPricesQueue", fixture_id)] == [1, 2, 4, 5]


def _fixture_item(engine: LocalEngine, fixture_id: str) -> dict:
    return engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]


def test_a_late_goal_is_counted_once_and_the_clock_stays(engine: LocalEngine) -> None:
    # Given a goal that arrives after a newer event was applied (the two overtook each other)
    fixture_id = "E2E-LATE-GOAL"
    create, kick_off, clock, goal, *_ = match_events(fixture_id)
    later_clock = dict(clock, sequence=9, event_id=f"{fixture_id}-9", minute=20)

    # When it is played after that newer event, and then redelivered
    outcomes = _run_all(engine, [create, kick_off, later_clock, goal, goal])

    # Then it is counted (a counter commutes), once; the newer clock tick's minute and open markets stay
    # (a late count is a newer revision of the fixture: its book goes out at once)
    assert [o.final_state for o in outcomes[-2:]] == ["PricesPublished", "SkippedAsDuplicate"]
    decided = [s for s in engine.trace(outcomes[-2].execution_arn) if s.name == "DecideAndPrice"]
    assert decided[0].output["decision"]["answer"]["outcome"] == "late_counted"
    item = _fixture_item(engine, fixture_id)
    assert item[f"{goal['team']}_score"] == {"N": "1"}
    assert item["match_minute"] == {"N": "20"} and item["last_sequence"] == {"N": "9"}
    assert "suspension_reason" not in item
    assert [entry["S"].split(" ")[0] for entry in item["counted_incidents"]["L"]] == [str(goal["sequence"])]
    assert not queue_bodies_for(engine, "QuarantinedEvents", fixture_id)


@pytest.mark.parametrize(
    ("change", "error", "cause_part"),
    [
        ({"sequence": None}, "MalformedEvent", "sequence"),
        ({"type": "corner_kick"}, "MalformedEvent", "corner_kick"),
        ({"team": None}, "MalformedEvent", "team"),
        ({"fixture_id": "E2E-NO-SUCH-FIXTURE"}, "UnknownFixture", "E2E-NO-SUCH-FIXTURE"),
    ],
)
def test_malformed_events_land_in_the_dlq_with_their_reason(
    engine: LocalEngine, change: dict, error: str, cause_part: str
) -> None:
    # Given a created fixture and one bad event for it
    fixture_id = f"E2E-BAD-{error}-{cause_part}"[:48]
    create, _, _, goal, *_ = match_events(fixture_id)
    bad = {key: value for key, value in {**goal, **change}.items() if value is not None}

    # When both are played
    outcomes = _run_all(engine, [create, bad])

    # Then the bad one is quarantined: the original event, the error and the execution name are on the DLQ
    assert outcomes[-1].kind == "quarantined"
    target = bad.get("fixture_id")
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", target)
    assert message["error"] == error and cause_part in message["cause"]
    assert message["event"] == bad and message["execution_name"] == outcomes[-1].execution_name


def test_a_line_that_is_not_json_is_kept_with_its_reason(engine: LocalEngine) -> None:
    # Given a feed line that is not JSON at all
    before = engine.accounting.outcomes["quarantined"]

    # When the engine is handed it
    engine.quarantine_unparseable('{"fixture_id": "E2E-BROKEN", "sequence": 1')

    # Then it is counted as quarantined and kept on the DLQ, verbatim, with the reason
    assert engine.accounting.outcomes["quarantined"] == before + 1
    bodies = [m["Body"] for m in engine.receive_all("QuarantinedEvents")]
    (kept,) = [b for b in bodies if isinstance(b, dict) and "E2E-BROKEN" in str(b.get("event"))]
    assert kept["error"] == "MalformedEvent" and kept["cause"].startswith("event: not JSON")


def test_a_throttled_pricing_lambda_is_retried_and_the_event_applied(engine: LocalEngine) -> None:
    # Given the pricing function throttled twice (the Lambda service refuses with 429)
    fixture_id = "E2E-THROTTLED"
    create, *_ = match_events(fixture_id)
    engine.inject_lambda_faults("ApplyFeedEvent", throttles=2)

    # When an event is played
    (outcome,) = _run_all(engine, [create])

    # Then both faults were used up, the workflow's Retry absorbed them, and the book was published
    assert engine.runtime.faults[engine.function_name("ApplyFeedEvent")].throttles == 0  # type: ignore[union-attr]
    task_failures = [
        event["taskFailedEventDetails"]["error"]
        for event in engine.history(outcome.execution_arn)
        if event["type"] == "TaskFailed"
    ]
    assert task_failures == ["Lambda.TooManyRequestsException"] * 2
    assert outcome.final_state == "PricesPublished"


def test_a_persistently_throttled_lambda_is_retried_then_quarantined(engine: LocalEngine) -> None:
    # Given the pricing function throttled more often than the workflow retries (1 + 3 attempts)
    fixture_id = "E2E-THROTTLED-OUT"
    create, *_ = match_events(fixture_id)
    engine.inject_lambda_faults("ApplyFeedEvent", throttles=10)

    # When an event is played
    try:
        (outcome,) = _run_all(engine, [create])
    finally:
        engine.runtime.faults.clear()  # type: ignore[union-attr]

    # Then it ends quarantined with the Lambda error as its reason
    assert outcome.kind == "quarantined"
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", fixture_id)
    assert message["error"] == "Lambda.TooManyRequestsException"


def test_a_crashing_pricing_lambda_is_quarantined_without_retry(engine: LocalEngine) -> None:
    # Given the pricing function failing in its own code (a bug, not a transient fault)
    fixture_id = "E2E-CRASH"
    create, *_ = match_events(fixture_id)
    engine.inject_lambda_faults("ApplyFeedEvent", crashes=1)

    # When an event is played
    (outcome,) = _run_all(engine, [create])

    # Then it is quarantined at once (retrying a bug only delays it), naming the error
    assert outcome.kind == "quarantined"
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", fixture_id)
    assert message["error"] == "InjectedCrash"
    assert json.loads(message["cause"])["errorMessage"].startswith("injected fault")


def test_a_failing_iot_bridge_is_retried_then_kept_on_its_failure_queue(engine: LocalEngine) -> None:
    # Given the IoT bridge failing on every attempt Lambda makes (1 + 2 retries)
    fixture_id = "E2E-BRIDGE-DOWN"
    create, *_ = match_events(fixture_id)
    engine.inject_lambda_faults("PublishPricesToIot", crashes=3)

    # When a book is published
    (outcome,) = _run_all(engine, [create])

    # Then the workflow succeeded, and the failed delivery is on the bridge's failure queue with the event
    assert outcome.final_state == "PricesPublished"
    records = [m["Body"] for m in engine.receive_all("FailedPublications")]
    (record,) = [r for r in records if fixture_id in json.dumps(r)]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    book = json.loads(record["requestPayload"]["Records"][0]["Sns"]["Message"])
    assert book["fixture_id"] == fixture_id


def test_trace_shows_each_state_with_its_input_and_output(engine: LocalEngine) -> None:
    # Given one applied event
    fixture_id = "E2E-TRACE"
    (outcome,) = _run_all(engine, match_events(fixture_id)[:1])

    # When its trace is read
    steps = engine.trace(outcome.execution_arn)

    # Then it lists the states in order, with durations, inputs and outputs
    assert [s.name for s in steps] == [
        "KeepOriginalEvent",
        "DecideAndPrice",
        "RouteDecision",
        "WriteFixture",
        "StorePrices",
        "ClaimPublication",
        "PublishPrices",
        "PricesPublished",
    ]
    assert all(step.duration_ms >= 0 for step in steps)
    price_step = next(s for s in steps if s.name == "DecideAndPrice")
    assert json.loads(price_step.output["decision"]["answer"]["book_item"]["book"]["S"])["fixture_id"] == fixture_id
    assert steps[0].input["fixture_id"] == fixture_id


def test_an_incident_before_kick_off_is_quarantined_as_not_in_play(engine: LocalEngine) -> None:
    # Given a fixture that has not kicked off, and a goal for it
    fixture_id = "E2E-NOT-IN-PLAY"
    create, _, _, goal, *_ = match_events(fixture_id)

    # When both are played
    outcomes = _run_all(engine, [create, goal])

    # Then the goal is refused with the reason, and the score is untouched
    assert outcomes[-1].kind == "quarantined"
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", fixture_id)
    assert message["error"] == "NotInPlay" and "phase pre_match" in message["cause"]
    item = engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]
    assert item["home_score"] == {"N": "0"}


def test_an_event_applied_but_never_published_is_priced_when_replayed(engine: LocalEngine) -> None:
    # Given an event that was written to the fixture but whose book could not be stored (DynamoDB failing every
    # attempt of StorePrices), so it was quarantined
    fixture_id = "E2E-REPLAY-AFTER-FAILURE"
    create, kick_off, clock, *_ = match_events(fixture_id)
    _run_all(engine, [create, kick_off])
    plan = FaultPlan(targets={"dynamodb": FaultSpec(1.0, kinds=("server_error",), states=("StorePrices",))})
    with plan.active():
        (failed,) = _run_all(engine, [clock])
    assert failed.kind == "quarantined"
    (quarantined,) = queue_bodies_for(engine, "QuarantinedEvents", fixture_id)

    # When an operator replays the quarantined event
    (replayed,) = _run_all(engine, [quarantined["event"]])

    # Then the core sees its own event as the newest, unpublished: it is priced and published now, not written again
    assert replayed.final_state == "PricesPublished"
    steps = [step.name for step in engine.trace(replayed.execution_arn)]
    assert "StorePrices" in steps and "WriteFixture" not in steps
    books = queue_bodies_for(engine, "OnPremPricesQueue", fixture_id)
    assert [book["sequence"] for book in books] == [1, 2, 3]
    # ...and a second replay, its book now out, is a plain duplicate
    (again,) = _run_all(engine, [quarantined["event"]])
    assert again.final_state == "SkippedAsDuplicate"


def test_a_late_yellow_card_is_counted_too(engine: LocalEngine) -> None:
    # Given a yellow card that arrives after a newer event (it moves no price, but the count is state)
    fixture_id = "E2E-LATE-YELLOW"
    create, kick_off, clock, *_ = match_events(fixture_id)
    yellow = dict(clock, type="card", team="home", colour="yellow", sequence=3, event_id=f"{fixture_id}-3y", minute=9)
    later_clock = dict(clock, sequence=4, event_id=f"{fixture_id}-4", minute=12)

    # When it is played after that newer event
    outcomes = _run_all(engine, [create, kick_off, later_clock, yellow])

    # Then it is counted late, as the in-order feed would have counted it
    assert outcomes[-1].kind == "applied"
    item = _fixture_item(engine, fixture_id)
    assert item["home_yellow_cards"] == {"N": "1"} and item["match_minute"] == {"N": "12"}
