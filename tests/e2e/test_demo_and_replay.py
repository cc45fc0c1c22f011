"""The README's commands as a user runs them: the demo and the replay, through their command lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local_engine.sample_feed import as_json_lines, sample_feed
from tests.synth import SynthesizedApp

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
REQUIRED_KEYS = {"events", "applied", "skipped", "quarantined", "sqs_messages", "mqtt_messages"}


def _run(module: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", module, *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=300
    )


def test_demo_accounts_for_every_event(dev_app: SynthesizedApp) -> None:
    # Given the demo on two fixtures, asked for JSON
    result = _run("local_engine.demo", "--fixtures", "2", "--json", "--assembly", str(dev_app.outdir))

    # Then it succeeds, shows a board and an accounting, and its last line is the JSON report
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert REQUIRED_KEYS <= set(report)
    assert report["events"] == report["applied"] + report["skipped"] + report["quarantined"]
    expected = sample_feed(fixtures=2, seed=7)
    assert report["events"] == len(expected)
    # every applied event published one book: on the price queue and over MQTT
    assert report["sqs_messages"]["PriceFanoutOnPremPricesQueue"] == report["applied"] == report["mqtt_messages"]
    assert report["sqs_messages"]["PriceFanoutOnPremSettlementQueue"] == 2  # one final book per fixture
    assert report["sqs_messages"]["FeedWorkflowQuarantinedEvents"] == report["quarantined"]
    assert "accounted for: yes" in result.stdout and "full_time" in result.stdout


def test_demo_prints_a_trace_on_request(dev_app: SynthesizedApp) -> None:
    # Given the name of the first fixture's goal execution in the seeded feed
    goal = next(e for e in sample_feed(fixtures=1, seed=7) if isinstance(e, dict) and e.get("type") == "goal")
    name = f"feed-{goal['fixture_id']}-{goal['sequence']}"

    # When the demo is asked for its trace
    result = _run("local_engine.demo", "--fixtures", "1", "--trace", name, "--assembly", str(dev_app.outdir))

    # Then each state of that execution is listed with its duration, input and output
    assert result.returncode == 0, result.stderr[-2000:]
    trace = result.stdout.split(f"trace of {name}")[1]
    for state in ("DecideAndPrice", "RouteDecision", "WriteFixture", "PublishPrices"):
        assert state in trace
    assert " ms\n" in trace and "in :" in trace and "out:" in trace


def test_replay_from_standard_input_counts_unparseable_lines(dev_app: SynthesizedApp, tmp_path: Path) -> None:
    # Given a small feed on standard input with one line that is not JSON
    feed = [event for event in sample_feed(fixtures=1, seed=3) if isinstance(event, dict)][:12]
    lines = [*as_json_lines(feed), "{not json"]

    # When it is replayed with --json
    result = _run("local_engine.replay", "-", "--json", "--assembly", str(dev_app.outdir), stdin="\n".join(lines))

    # Then every line is accounted for, the bad one as quarantined
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["events"] == 13 and report["accounted_for"] is True
    assert report["final_states"].get("RejectedAtIngest") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "0"], "--speed: must be positive"),
        (["--speed", "fast"], "--speed: expected 'max' or a positive number"),
    ],
)
def test_bad_replay_arguments_fail_with_one_line(args: list[str], message: str, dev_app: SynthesizedApp) -> None:
    # Given a replay asked for an impossible speed
    # When it starts
    result = _run("local_engine.replay", "-", *args, "--assembly", str(dev_app.outdir), stdin="")

    # Then it stops at once, naming the option and the reason, without a traceback
    assert result.returncode != 0 and message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_replay_of_a_missing_file_names_it() -> None:
    # Given a feed file that does not exist
    # When a replay is asked for it
    result = _run("local_engine.replay", "no/such/feed.jsonl")

    # Then it exits with a usage error naming the file
    assert result.returncode == 2 and "no/such/feed.jsonl" in result.stderr
