"""The soak: thousands of feed events with duplicates, reordering, malformed events and injected faults, every
one accounted for, and each fixture's final state and book equal to an in-order, fault-free replay.

What the feed's faults mean exactly (docs/feed-events.md, "Soak semantics"):

- ``duplicates``: that fraction of the events sent are copies of an earlier event of the same fixture, sent
  again one to five deliveries later (a redelivery);
- ``reordered``: that fraction of the events are delivered out of order, as adjacent swaps of two in-play
  events of the same fixture (goals, cards, penalties, VAR checks, clock ticks). Events that change the
  phase (creation, kick-off, half time, second half, full time) are never swapped: an incident that
  overtakes kick-off is quarantined as NotInPlay, recoverable by redrive but with a different book in
  between (tests/e2e/test_redrive.py covers it);
- ``malformed``: that fraction are broken copies (a field missing, an unknown type, an unknown fixture);
- faults (local_engine/faults.py): every workflow call to DynamoDB, SNS, SQS and the ApplyFeedEvent Lambda fails
  with probability ``fault_rate`` (throttling, 5xx, timeout after the call; the Lambda may also crash,
  the persistent fault that is quarantined at once). The quarantine is then redriven, fault-free.

The reference is the same fixtures' events, in order, once each, without faults, through a second local
engine in its own process (moto's backends are per process).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from local_engine.engine import LocalEngine, Outcome
from local_engine.faults import FaultPlan, FaultSpec
from local_engine.redrive import redrive_local
from local_engine.sample_feed import FixtureFeed, stamp
from local_engine.session import quiet_libraries

PHASE_EVENTS = frozenset({"fixture_created", "kick_off", "half_time", "second_half_kick_off", "full_time"})
KICK_OFF = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
# The fixture's attributes that make its state; bookkeeping (who wrote last, when, the revision) is left out.
STATE_ATTRIBUTES = (
    "match_phase",
    "match_minute",
    "home_score",
    "away_score",
    "home_red_cards",
    "away_red_cards",
    "home_yellow_cards",
    "away_yellow_cards",
    "match_period",
    "suspension_reason",
    "last_sequence",
    "home_team",
    "away_team",
    "home_goals_expected",
    "away_goals_expected",
)
# A book's revision counts the fixture's writes, which differ with the route taken (a late goal is its own
# write; an in-order goal shares the write of its event): like generated_at, it is bookkeeping, not a price. So
# are the event that caused the newest book and the result's kind and revision: a goal or card quarantined by a
# fault and redriven after full time is a correction of the result (docs/feed-events.md, Settlement), where the
# in-order feed's last book is the final one; the score and every price are compared.
BOOK_IGNORED = ("generated_at", "revision", "source_event", "result")


@dataclass(frozen=True)
class SoakFeed:
    in_order: list[dict[str, Any]]  # every fixture's events, in order, once: the reference
    sent: list[Any]  # what the soak delivers
    duplicates: int
    reordered: int  # events delivered out of order (two per swap)
    malformed: int


def _fixture_events(rng: random.Random, index: int, in_play_events: int) -> list[dict[str, Any]]:
    fixture_id = f"SOAK-{index:04d}"
    kick_off = KICK_OFF + timedelta(minutes=5 * (index % 12))
    feed = FixtureFeed(fixture_id, kick_off)
    events, add = feed.events, feed.add

    add(
        -120,
        "fixture_created",
        home_team=f"Home {index:04d}",
        away_team=f"Away {index:04d}",
        competition="Soak League",
        kick_off_at=stamp(kick_off),
        home_goals_expected=round(rng.uniform(0.9, 2.2), 2),
        away_goals_expected=round(rng.uniform(0.6, 1.8), 2),
    )
    add(0, "kick_off")
    first_half = in_play_events // 2
    for half, count, (start, end), offset in (
        (1, first_half, (1, 45), 0),
        (2, in_play_events - first_half, (46, 90), 15),
    ):
        if half == 2:
            add(45 + offset, "second_half_kick_off")
        minutes = sorted(rng.randint(start, end) for _ in range(count))
        for minute in minutes:
            kind = rng.choices(
                ["clock", "goal", "yellow", "red", "penalty_awarded", "var_check"], [60, 13, 14, 2, 4, 7]
            )[0]
            team = rng.choice(["home", "away"])
            wall = minute + offset + rng.random() * 0.9
            if kind == "clock":
                add(wall, "clock", minute=minute)
            elif kind == "goal":
                add(wall, "goal", team=team, minute=minute)
            elif kind in {"yellow", "red"}:
                add(wall, "card", team=team, colour=kind, minute=minute)
            elif kind == "penalty_awarded":
                add(wall, "penalty_awarded", team=team, minute=minute)
            else:
                add(wall, "var_check", minute=minute)
        if half == 1:
            add(47, "half_time")
    add(90 + offset + 4, "full_time")
    return events


def soak_feed(
    *,
    events: int = 10_000,
    fixtures: int = 200,
    duplicates: float = 0.10,
    reordered: float = 0.10,
    malformed: float = 0.02,
    seed: int = 2026,
) -> SoakFeed:
    """Exactly ``events`` events to send: in-order matches plus the given fractions of faults."""
    rng = random.Random(seed)
    duplicate_count, malformed_count = round(events * duplicates), round(events * malformed)
    base = events - duplicate_count - malformed_count
    per_fixture, extra = divmod(base, fixtures)
    if per_fixture < len(PHASE_EVENTS) + 4:
        raise ValueError(f"events: {events} is too few for {fixtures} fixtures")
    matches = [
        _fixture_events(rng, index, per_fixture + (1 if index < extra else 0) - len(PHASE_EVENTS))
        for index in range(fixtures)
    ]
    in_order = [event for match in matches for event in match]
    delivery = [list(match) for match in matches]

    swaps_wanted = round(events * reordered) // 2
    candidates = [
        (f, i)
        for f, match in enumerate(delivery)
        for i in range(len(match) - 1)
        if match[i]["type"] not in PHASE_EVENTS and match[i + 1]["type"] not in PHASE_EVENTS
    ]
    rng.shuffle(candidates)
    used: set[tuple[int, int]] = set()
    swaps = 0
    for f, i in candidates:
        if swaps == swaps_wanted:
            break
        if {(f, i - 1), (f, i), (f, i + 1)} & used:
            continue  # non-overlapping swaps: each moved event is moved once
        used.add((f, i))
        delivery[f][i], delivery[f][i + 1] = delivery[f][i + 1], delivery[f][i]
        swaps += 1

    for _ in range(duplicate_count):
        match = rng.choice(delivery)
        position = rng.randrange(len(match))
        match.insert(min(len(match), position + rng.randint(1, 5)), dict(match[position]))
    for number in range(malformed_count):
        match = rng.choice(delivery)
        position = rng.randrange(len(match))
        match.insert(position + 1, _malformed(match[position], rng, number))

    sent = _interleave(delivery, rng)
    return SoakFeed(in_order, sent, duplicate_count, 2 * swaps, malformed_count)


def _malformed(event: dict[str, Any], rng: random.Random, number: int) -> dict[str, Any]:
    broken = dict(event, event_id=f"{event['event_id']}-bad{number}")
    fault = rng.choice(["no_sequence", "bad_type", "unknown_fixture", "no_team"])
    if fault == "no_sequence":
        broken.pop("sequence")
    elif fault == "bad_type":
        broken["type"] = "corner_kick"
    elif fault == "unknown_fixture":
        broken.update(fixture_id=f"SOAK-UNKNOWN-{number:04d}", type="clock", minute=1)
    else:
        broken.update(type="goal", minute=broken.get("minute", 1))
        broken.pop("team", None)
    return broken


def _interleave(delivery: list[list[dict[str, Any]]], rng: random.Random) -> list[Any]:
    """The fixtures' deliveries merged at random, each fixture's own order kept."""
    positions = [0] * len(delivery)
    pending = [f for f, match in enumerate(delivery) if match]
    sent: list[Any] = []
    while pending:
        f = rng.choice(pending)
        sent.append(delivery[f][positions[f]])
        positions[f] += 1
        if positions[f] == len(delivery[f]):
            pending.remove(f)
    return sent


def soak_fault_plan(rate: float, seed: int) -> FaultPlan:
    transient = FaultSpec(error_rate=rate)
    return FaultPlan(
        seed=seed,
        targets={
            "dynamodb": transient,
            "sns": transient,
            "sqs": transient,
            "ApplyFeedEvent": FaultSpec(error_rate=rate, kinds=("throttling", "server_error", "timeout", "crash")),
        },
    )


class FinishedExecutionSweeper:
    """Keeps a long run's memory flat: every ``every`` outcomes, moto's finished executions (each holding its
    whole history, price books included) and the runtime's invocation records are dropped. Outcomes are
    recorded by the engine when an execution ends, so nothing the soak reads is lost; only ``trace`` of an
    old execution is (the soak never traces)."""

    def __init__(self, engine: LocalEngine, every: int = 250) -> None:
        self.engine, self.every, self.seen = engine, every, 0
        self._lock = threading.Lock()

    def __call__(self, _: Outcome | None = None) -> None:
        with self._lock:
            self.seen += 1
            due = self.seen % self.every == 0
        if due:
            self.sweep()

    def sweep(self) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        from local_engine.engine import REGION

        backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][REGION]  # the backend that runs the ASL
        with self._lock:
            self._sweep(backend)

    def _sweep(self, backend: Any) -> None:
        for state_machine in list(backend.state_machines):
            for execution in list(state_machine.executions):
                status = getattr(execution, "exec_status", None)  # the parser's executions (local engine)
                if status is not None and status.value != "RUNNING":
                    state_machine.executions.remove(execution)  # list.remove is atomic; appends may go on
        if self.engine.runtime is not None:
            del self.engine.runtime.invocations[:]
        self.swept = sum(len(sm.executions) for sm in backend.state_machines)


def final_states(engine: LocalEngine, fixture_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each fixture's state (STATE_ATTRIBUTES) and its newest stored book, as plain JSON."""
    dynamodb = engine.client("dynamodb")
    fixtures_table, prices_table = engine.table_name("Fixtures"), engine.table_name("Prices")
    result: dict[str, dict[str, Any]] = {}
    for fixture_id in fixture_ids:
        item = dynamodb.get_item(
            TableName=fixtures_table, Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
        ).get("Item", {})
        state = {name: _plain(item[name]) for name in STATE_ATTRIBUTES if name in item}
        newest = dynamodb.query(
            TableName=prices_table,
            KeyConditionExpression="fixture_id = :f",
            ExpressionAttributeValues={":f": {"S": fixture_id}},
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )["Items"]
        book = json.loads(newest[0]["book"]["S"]) if newest else None
        if book is not None:
            for name in BOOK_IGNORED:
                book.pop(name, None)
        result[fixture_id] = {"state": state, "book": book}
    return result


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        return float(inner)
    if kind == "NS":
        return sorted(float(v) for v in inner)
    return inner


def run_reference(assembly: Path, feed: list[dict[str, Any]], out: Path) -> None:
    """The in-order, fault-free replay: every event once, in order; writes each fixture's final state."""
    quiet_libraries()
    started = time.monotonic()
    with LocalEngine(assembly, mqtt=False) as engine:
        sweeper = FinishedExecutionSweeper(engine)
        for event in feed:
            engine.submit(event, sweeper)
        engine.drain(timeout=3600)
        fixture_ids = sorted({event["fixture_id"] for event in feed})
        report = {
            "accounting": engine.accounting.as_dict(),
            "fixtures": final_states(engine, fixture_ids),
            "wall_seconds": time.monotonic() - started,
        }
    out.write_text(json.dumps(report, sort_keys=True))


@dataclass
class SoakResult:
    report: dict[str, Any]
    outcomes: list[Outcome]
    fixtures: dict[str, dict[str, Any]]
    redriven: list[dict[str, Any]]


def run_soak(assembly: Path, feed: SoakFeed, *, fault_rate: float, seed: int, concurrency: int = 8) -> SoakResult:
    """Play the soak feed with faults, redrive the quarantine without, and account for every event."""
    quiet_libraries()
    plan = soak_fault_plan(fault_rate, seed)
    started = time.monotonic()
    with LocalEngine(assembly, mqtt=False, concurrency=concurrency) as engine:
        sweeper = FinishedExecutionSweeper(engine)
        with plan.active():
            for event in feed.sent:
                engine.submit(event, sweeper)
            engine.drain(timeout=3600)
        sweeper.sweep()
        played_seconds = time.monotonic() - started
        played = engine.accounting.as_dict()
        first_outcomes = list(engine.outcomes)
        redrive_report = redrive_local(engine)
        redriven = [
            {"fixture_id": m.fixture_id, "sequence": m.sequence, "outcome": m.outcome, "error": m.error}
            for m in redrive_report.messages
        ]
        left = [m["Body"] for m in engine.receive_all("QuarantinedEvents")]
        fixture_ids = sorted({event["fixture_id"] for event in feed.in_order})
        fixtures = final_states(engine, fixture_ids)
    faulted = plan.executions_with_faults()
    quarantined_by_fault = [o for o in first_outcomes if o.kind == "quarantined" and o.execution_name in faulted]
    report = {
        "events_sent": len(feed.sent),
        "fixtures": len(fixture_ids),
        "feed": {"duplicates": feed.duplicates, "reordered": feed.reordered, "malformed": feed.malformed},
        "played": played,
        "faults": {
            "fault_rate_per_call": fault_rate,
            "injected": len(plan.injected),
            "by_target_and_kind": plan.counts(),
            "events_with_faults": len(faulted),
            "healed": sum(1 for o in first_outcomes if o.kind != "quarantined" and o.execution_name in faulted),
            "quarantined": len(quarantined_by_fault),
        },
        "redrive": redrive_report.summary(),
        "left_on_quarantine": _count_reasons(left),
        # The quarantine send is at-least-once too (a timeout after the send, then a retry): count events, not copies
        "left_on_quarantine_distinct_events": len(
            {json.dumps(body.get("event") if isinstance(body, dict) else body, sort_keys=True) for body in left}
        ),
        "wall_seconds": {"played": played_seconds, "total": time.monotonic() - started},
    }
    return SoakResult(report, first_outcomes, fixtures, redriven)


def _count_reasons(bodies: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for body in bodies:
        reason = body.get("error", "?") if isinstance(body, dict) else "?"
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def compare(subject: dict[str, dict[str, Any]], reference: dict[str, dict[str, Any]]) -> list[str]:
    """Every difference between the soak's final fixtures and the reference's, in words (none: equal)."""
    differences = []
    for fixture_id in sorted(set(subject) | set(reference)):
        ours, theirs = subject.get(fixture_id), reference.get(fixture_id)
        if ours is None or theirs is None:
            differences.append(f"{fixture_id}: only in {'reference' if ours is None else 'soak'}")
            continue
        for name in sorted(set(ours["state"]) | set(theirs["state"])):
            if ours["state"].get(name) != theirs["state"].get(name):
                differences.append(
                    f"{fixture_id}.{name}: soak {ours['state'].get(name)!r}, in order {theirs['state'].get(name)!r}"
                )
        if ours["book"] != theirs["book"]:
            keys = sorted(
                k
                for k in set(ours["book"] or {}) | set(theirs["book"] or {})
                if (ours["book"] or {}).get(k) != (theirs["book"] or {}).get(k)
            )
            differences.append(f"{fixture_id}.book differs in {keys}")
    return differences


def accounted_for(result: SoakResult, feed: SoakFeed) -> list[str]:
    """Problems with the accounting (none: every event sent has exactly one outcome, every in-order event
    ended applied, skipped with its reason, or quarantined and then redriven)."""
    problems = []
    played = result.report["played"]
    if played["events"] != len(feed.sent) or played["applied"] + played["skipped"] + played["quarantined"] != len(
        feed.sent
    ):
        problems.append(f"accounting: {played} does not add up to {len(feed.sent)} events sent")
    settled: set[tuple[Any, Any]] = set()
    for outcome in result.outcomes:
        if outcome.kind != "quarantined" and isinstance(outcome.event, dict):
            settled.add((outcome.event.get("fixture_id"), outcome.event.get("sequence")))
    for item in result.redriven:
        if item["outcome"] in {"applied", "skipped"}:
            settled.add((item["fixture_id"], item["sequence"]))
    lost = [(e["fixture_id"], e["sequence"]) for e in feed.in_order if (e["fixture_id"], e["sequence"]) not in settled]
    if lost:
        problems.append(f"{len(lost)} in-order events never applied or skipped, e.g. {lost[:5]}")
    left = result.report["left_on_quarantine_distinct_events"]
    if left != feed.malformed:
        problems.append(f"{left} distinct events left on the quarantine, expected the {feed.malformed} malformed")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m local_engine.soak reference FEED.json OUT.json ASSEMBLY``: the reference run, in its own process."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4 or args[0] != "reference":
        print(main.__doc__, file=sys.stderr)
        return 2
    run_reference(Path(args[3]), json.loads(Path(args[1]).read_text()), Path(args[2]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
