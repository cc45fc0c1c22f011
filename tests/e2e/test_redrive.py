"""Redriving quarantined events (local_engine/redrive.py) through the deployed workflow, run locally."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_engine.engine import LocalEngine
from local_engine.redrive import Started, redrive, redrive_local, redrive_name
from tests.e2e.conftest import match_events
from tests.synth import SynthesizedApp

pytestmark = pytest.mark.slow


def _play(engine: LocalEngine, events: list) -> list:
    outcomes: list = [None] * len(events)
    for index, event in enumerate(events):
        engine.submit(event, lambda outcome, index=index: outcomes.__setitem__(index, outcome))
    engine.drain()
    return outcomes


def _fixture(engine: LocalEngine, fixture_id: str) -> dict[str, Any]:
    return engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )["Item"]


def test_redrive_applies_what_can_apply_keeps_the_malformed_and_is_idempotent(engine: LocalEngine) -> None:
    # Given a goal that overtook kick-off (NotInPlay), a clock tick whose pricing crashed, and a malformed event
    fixture_id = "E2E-REDRIVE"
    create, kick_off, clock, goal, *_ = match_events(fixture_id)
    malformed = {k: v for k, v in dict(clock, event_id=f"{fixture_id}-bad").items() if k != "sequence"}
    engine.receive_all("QuarantinedEvents")  # other tests' leftovers
    _play(engine, [create, goal, kick_off])
    engine.inject_lambda_faults("ApplyFeedEvent", crashes=1)
    _play(engine, [clock, malformed])
    assert engine.queue_depths()["FeedWorkflowQuarantinedEvents"] == 3
    assert _fixture(engine, fixture_id)[f"{goal['team']}_score"] == {"N": "0"}

    # When the quarantine is redriven
    report = redrive_local(engine)

    # Then the goal (sequence 4, newer than the fixture's 2) is applied and published; the crashed tick
    # (sequence 3: the crash came before anything was written) is stale behind it, or applied if redriven
    # first; the malformed event stays on the queue
    by_error = {m.error: m for m in report.messages}
    assert set(by_error) == {"NotInPlay", "InjectedCrash", "MalformedEvent"}
    assert by_error["NotInPlay"].execution_name == redrive_name(goal)
    assert (by_error["NotInPlay"].outcome, by_error["NotInPlay"].detail) == ("applied", "PricesPublished")
    crash_first = report.messages.index(by_error["InjectedCrash"]) < report.messages.index(by_error["NotInPlay"])
    expected_crash = ("applied", "PricesPublished") if crash_first else ("skipped", "SkippedAsStale")
    assert (by_error["InjectedCrash"].outcome, by_error["InjectedCrash"].detail) == expected_crash
    assert by_error["MalformedEvent"].action == "left"
    assert _fixture(engine, fixture_id)[f"{goal['team']}_score"] == {"N": "1"}
    summary = report.summary()
    assert summary["redriven"] == 2 and summary["left_on_queue"] == {"MalformedEvent": 1}
    depth = engine.queue_depths()["FeedWorkflowQuarantinedEvents"]
    assert depth == 1  # only the malformed event, visible again

    # And when the same goal's message reaches the queue again (a duplicate) and redrive runs again
    body = {"error": "NotInPlay", "cause": "again", "event": goal}
    engine.client("sqs").send_message(QueueUrl=engine.queue_url("QuarantinedEvents"), MessageBody=json.dumps(body))
    again = redrive_local(engine)

    # Then the second time is a duplicate: nothing counted twice
    (goal_again,) = [m for m in again.messages if m.error == "NotInPlay"]
    assert (goal_again.outcome, goal_again.detail) == ("skipped", "SkippedAsDuplicate")
    assert _fixture(engine, fixture_id)[f"{goal['team']}_score"] == {"N": "1"}


def test_a_dry_run_changes_nothing(engine: LocalEngine) -> None:
    # Given one quarantined event
    fixture_id = "E2E-REDRIVE-DRY"
    engine.receive_all("QuarantinedEvents")
    create, kick_off, clock, *_ = match_events(fixture_id)
    _play(engine, [create, clock])  # a clock tick before kick-off: NotInPlay
    events_before = engine.accounting.events

    # When a dry run reports on it
    report = redrive_local(engine, dry_run=True)

    # Then it would be redriven, but nothing ran and the message is still there
    assert [m.action for m in report.messages] == ["would-redrive"]
    assert engine.accounting.events == events_before
    assert engine.queue_depths()["FeedWorkflowQuarantinedEvents"] == 1
    engine.receive_all("QuarantinedEvents")


def test_redrive_names_are_deterministic_short_and_safe() -> None:
    # Given an event, the same event again, a changed one, and one whose fixture id carries injection text
    event = {"fixture_id": "EPL-2026-ARS-CHE", "sequence": 42, "type": "goal", "team": "home", "minute": 3}
    hostile = dict(event, fixture_id="x'); DROP TABLE--$.{}" + "A" * 100)

    # Then the name is stable, differs with the content, and fits Step Functions' 80 allowed characters
    assert redrive_name(event) == redrive_name(dict(reversed(list(event.items()))))
    assert redrive_name(event).startswith("redrive-EPL-2026-ARS-CHE-42-")
    assert redrive_name(event) != redrive_name(dict(event, minute=4))
    name = redrive_name(hostile)
    assert len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)


def test_against_aws_a_message_is_deleted_only_after_its_execution_ran() -> None:
    # Given a real (moto) SQS queue with two quarantined events, and a Step Functions stand-in: moto does not
    # implement StartSyncExecution, which the AWS path uses, so the starter is a fake that fails the second call
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="quarantine")["QueueUrl"]
        events = [{"fixture_id": "F", "sequence": n, "type": "clock"} for n in (1, 2)]
        for event in events:
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"error": "States.Timeout", "event": event}))
        calls: list[tuple[str, str]] = []

        def start(name: str, execution_input: str) -> Started:
            calls.append((name, execution_input))
            if len(calls) == 2:
                raise RuntimeError("StartSyncExecution: throttled")
            return Started(f"arn:{name}", "succeeded")

        # When redrive runs and the second start fails
        with pytest.raises(RuntimeError, match="throttled"):
            redrive(sqs, url, "arn:sm", start)

        # Then the first message is gone and the second is still on the queue (visible once its timeout passes)
        assert [json.loads(body) for _, body in calls] == events
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        remaining = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        assert remaining == 1


def test_the_command_plays_a_feed_and_redrives_it_locally(dev_app: SynthesizedApp, tmp_path: Path) -> None:
    # Given a feed file whose goal overtakes kick-off
    fixture_id = "CLI-REDRIVE"
    create, kick_off, clock, goal, *_ = match_events(fixture_id)
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(e) for e in [create, goal, kick_off, clock]) + "\n")

    # When the command runs
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "local_engine.redrive",
            "--local",
            str(feed),
            "--assembly",
            str(dev_app.outdir),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # Then it reports the play and the redrive, in words and as JSON
    assert result.returncode == 0, result.stderr[-2000:]
    assert "quarantined 1" in result.stdout and "redriven           1" in result.stdout
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["outcomes"] == {"applied": 1}
    (message,) = report["messages"]
    assert message["error"] == "NotInPlay" and message["execution_name"] == redrive_name(goal)


def test_bad_arguments_fail_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local_engine.redrive", "--queue-url", "https://q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "--state-machine-arn: required with --queue-url" in result.stderr
