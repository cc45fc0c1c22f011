"""Injected faults (local_engine/faults.py) against the deployed workflow's Retry and Catch policies."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from local_engine.engine import LocalEngine, Outcome
from local_engine.faults import FaultPlan, FaultSpec
from tests.e2e.conftest import match_events, queue_bodies_for

pytestmark = pytest.mark.slow
ASL = Path(__file__).resolve().parents[2] / "statemachines" / "feed_event.asl.json"


def _play(engine: LocalEngine, events: list) -> list[Outcome]:
    outcomes: list = [None] * len(events)
    for index, event in enumerate(events):
        engine.submit(event, lambda outcome, index=index: outcomes.__setitem__(index, outcome))
    engine.drain()
    return outcomes


def _task_errors(engine: LocalEngine, outcome: Outcome) -> list[str]:
    errors = []
    for event in engine.history(outcome.execution_arn):
        details = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails")
        if details:
            errors.append(details["error"])
    return errors


def _max_attempts(state_name: str) -> int:
    """1 + the MaxAttempts of the state's first Retry rule (every rule there covers the injected errors)."""
    state = json.loads(ASL.read_text())["States"][state_name]
    return 1 + int(state["Retry"][0]["MaxAttempts"])


def test_transient_faults_heal_and_only_exhausted_retries_quarantine(engine: LocalEngine) -> None:
    # Given a quarter of the attempts on DynamoDB, SNS and the pricing Lambda failing (throttling, 5xx, timeouts)
    fixture_id = "E2E-FAULTS-TRANSIENT"
    spec = FaultSpec(error_rate=0.25)
    plan = FaultPlan(seed=11, targets={"dynamodb": spec, "sns": spec, "ApplyFeedEvent": spec})

    # When a whole match is played
    with plan.active():
        outcomes = _play(engine, match_events(fixture_id))

    # Then faults of every kind were met and every one shows in the execution's history
    assert {fault.kind for fault in plan.injected} == {"throttling", "server_error", "timeout"}
    errors = [error for outcome in outcomes for error in _task_errors(engine, outcome)]
    # (a timeout after a write makes the retry meet its own write: the guard refuses it, on purpose)
    assert len([e for e in errors if e != "DynamoDB.ConditionalCheckFailedException"]) == len(plan.injected) > 10
    # ...and an event is quarantined exactly when one of its states failed on every attempt its Retry allows
    failed_attempts = Counter((fault.execution_name, fault.state_name) for fault in plan.injected)
    for outcome in outcomes:
        exhausted = [
            state
            for (name, state), count in failed_attempts.items()
            if name == outcome.execution_name and count >= _max_attempts(state)
        ]
        assert (outcome.kind == "quarantined") == bool(exhausted), (outcome.execution_name, exhausted)
        if exhausted:
            assert outcome.reason is not None and outcome.reason.split(":")[0] in {f.error for f in plan.injected}
    healed = [o for o in outcomes if o.kind == "applied" and any(n == o.execution_name for n, _ in failed_attempts)]
    assert len(healed) >= 5


def test_injected_errors_carry_the_names_step_functions_reports(engine: LocalEngine) -> None:
    # Given each kind failing the first attempt of one state
    fixture_id = "E2E-FAULTS-NAMES"
    plan = FaultPlan(
        targets={
            "dynamodb": FaultSpec(1.0, kinds=("throttling",), states=("WriteFixture",), failing_attempts=1),
            "ApplyFeedEvent": FaultSpec(1.0, kinds=("server_error",), failing_attempts=1),
            "sns": FaultSpec(1.0, kinds=("timeout",), failing_attempts=1),
        }
    )

    # When an event is played
    with plan.active():
        (outcome,) = _play(engine, match_events(fixture_id)[:1])

    # Then the workflow saw the errors AWS would raise, retried each once, and published
    assert _task_errors(engine, outcome) == [
        "Lambda.ServiceException",
        "DynamoDB.ThrottlingException",
        "States.Timeout",
    ]
    assert outcome.final_state == "PricesPublished"


def test_a_persistent_fault_quarantines_the_event_with_the_error(engine: LocalEngine) -> None:
    # Given SNS failing every attempt
    fixture_id = "E2E-FAULTS-PERSISTENT"
    plan = FaultPlan(targets={"sns": FaultSpec(1.0, kinds=("server_error",), states=("PublishPrices",))})

    # When an event is played
    with plan.active():
        (outcome,) = _play(engine, match_events(fixture_id)[:1])

    # Then the retries are spent (1 + 4 attempts) and the event is quarantined with SNS's error, not lost
    assert _task_errors(engine, outcome) == ["SNS.InternalErrorException"] * 5
    assert outcome.kind == "quarantined"
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", fixture_id)
    assert message["error"] == "SNS.InternalErrorException"
    assert message["event"]["fixture_id"] == fixture_id
    # ...and the claim was given back, so a replay of the quarantined event publishes the stored book
    assert "ReleaseClaim" in [step.name for step in engine.trace(outcome.execution_arn)]
    (replayed,) = _play(engine, [message["event"]])
    assert replayed.final_state == "PricesPublished"
    (book,) = queue_bodies_for(engine, "OnPremPricesQueue", fixture_id)
    assert book["revision"] == 1


def test_a_claim_whose_answer_was_lost_still_publishes(engine: LocalEngine) -> None:
    # Given the publication claim's first write going through but timing out (the ambiguous fault)
    fixture_id = "E2E-FAULTS-LOST-CLAIM"
    plan = FaultPlan(
        targets={"dynamodb": FaultSpec(1.0, kinds=("timeout",), states=("ClaimPublication",), failing_attempts=1)}
    )

    # When an event is played
    with plan.active():
        (outcome,) = _play(engine, match_events(fixture_id)[:1])

    # Then the retry meets the claim's own write, which the claim's condition accepts (published_by is this
    # execution), and the book is published once
    assert _task_errors(engine, outcome) == ["States.Timeout"]
    assert outcome.final_state == "PricesPublished"
    assert [book["sequence"] for book in queue_bodies_for(engine, "OnPremPricesQueue", fixture_id)] == [1]


def test_a_write_whose_answer_was_lost_is_applied_once(engine: LocalEngine) -> None:
    # Given a goal whose fixture update goes through but times out, on every event's first attempt
    fixture_id = "E2E-FAULTS-LOST-WRITE"
    create, kick_off, clock, goal, *_ = match_events(fixture_id)
    plan = FaultPlan(
        targets={"dynamodb": FaultSpec(1.0, kinds=("timeout",), states=("WriteFixture",), failing_attempts=1)}
    )

    # When the events are played
    with plan.active():
        outcomes = _play(engine, [create, kick_off, clock, goal])

    # Then each retry meets its own write (the revision moved), the core decides again, sees its own event as
    # the newest and unpublished, and publishes it; the goal counts once
    assert len(plan.injected) == 4
    assert [o.final_state for o in outcomes] == ["PricesPublished"] * 4
    for outcome in outcomes:
        steps = [step.name for step in engine.trace(outcome.execution_arn)]
        assert steps.count("DecideAndPrice") == 2 and "DecideAgain" in steps
    item = engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]
    assert item[f"{goal['team']}_score"] == {"N": "1"}


def test_fault_rolls_are_reproducible_and_validated() -> None:
    # Given two plans with the same seed and one with another
    spec = FaultSpec(error_rate=0.5)
    first, second, other = (FaultPlan(seed=s, targets={"dynamodb": spec}) for s in (1, 1, 2))
    keys = [(f"feed-F-{n}", "WriteFixture", attempt) for n in range(200) for attempt in range(3)]

    # When each rolls for the same attempts
    rolls = [[plan.roll(*key, "dynamodb") for key in keys] for plan in (first, second, other)]

    # Then the same seed gives the same faults, another seed others, and the rate is roughly kept
    assert rolls[0] == rolls[1] != rolls[2]
    assert 0.4 < sum(r is not None for r in rolls[0]) / len(keys) < 0.6
    assert first.roll("x", "y", 0, "sqs") is None  # no spec for that target: never fails
    with pytest.raises(ValueError, match="error_rate"):
        FaultSpec(error_rate=1.5)
    with pytest.raises(ValueError, match="kinds"):
        FaultSpec(kinds=("meteor",))  # type: ignore[arg-type]
