"""Property tests of the feed rules against an in-order oracle: the same events applied once each, in sequence
order, by the same core. Generated feeds hold whole matches with duplicates, adjacent swaps of in-play
incidents, conflicting copies, stray events that are illegal where they fall, and goals or cards held back
until after full time."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.domain.feed_rules import decide_feed_event
from lambdas.domain.fixture import FeedState
from lambdas.domain.match_phases import COUNTING_TYPES, MINUTES_IN_PERIOD, TRANSITIONS
from tests.unit.domain.feeds import NOW, card, clock, created, event, goal, phase, play, whole_match

SPACING = 10  # sequences of the match are 10 apart, so strays fit between them
PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _incident(sequence: int, kind: str, team: str, minute: int) -> dict[str, Any]:
    if kind == "goal":
        return goal(sequence, team, minute)
    if kind in ("red", "yellow"):
        return card(sequence, kind, team, minute)
    if kind == "clock":
        return clock(sequence, minute)
    if kind == "var_check":
        return event(sequence, "var_check", minute=minute)
    return event(sequence, "penalty_awarded", team=team, minute=minute)


INCIDENT = st.tuples(
    st.sampled_from(["goal", "red", "yellow", "clock", "clock", "var_check", "penalty_awarded"]),
    st.sampled_from(["home", "away"]),
)


@st.composite
def matches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A legal whole match in sequence order, sequences SPACING apart."""
    counter = iter(range(SPACING, 10_000 * SPACING, SPACING))
    feed = [created(next(counter)), phase(next(counter), "kick_off")]
    for period, closing in (("first_half", "half_time"), ("second_half", "full_time")):
        low, high = MINUTES_IN_PERIOD[period]
        minutes = sorted(draw(st.lists(st.integers(low, high), max_size=8)))
        for minute in minutes:
            kind, team = draw(INCIDENT)
            feed.append(_incident(next(counter), kind, team, minute))
        feed.append(phase(next(counter), closing))
        if closing == "half_time":
            feed.append(phase(next(counter), "second_half_kick_off"))
    return feed


def _is_incident(raw: dict[str, Any]) -> bool:
    return raw["type"] not in ("fixture_created", "kick_off", "half_time", "second_half_kick_off", "full_time")


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the in-order events, the delivered feed): swaps, duplicates, conflicting copies and strays."""
    match = draw(matches())
    delivered = list(match)
    in_order = list(match)
    # Strays: a phase event or incident with a fresh sequence, delivered in its place (illegal or legal there).
    for _ in range(draw(st.integers(0, 3))):
        index = draw(st.integers(1, len(delivered) - 1))
        sequence = delivered[index - 1]["sequence"] + 1 + draw(st.integers(0, 3))
        if sequence >= delivered[index]["sequence"]:
            continue  # a stray is delivered in its sequence's place, between its neighbours
        kind = draw(st.sampled_from([*TRANSITIONS, "yellow"]))
        stray = (
            phase(sequence, kind)
            if kind in ("kick_off", "half_time", "second_half_kick_off", "full_time")
            else created(sequence)
            if kind == "fixture_created"
            else _incident(sequence, "goal" if kind == "goal" else kind, "home", draw(st.integers(0, 120)))
        )
        delivered.insert(index, stray)
        in_order.append(stray)
    # Adjacent swaps of two incidents of the match (each event moved at most once).
    moved: set[int] = set()
    for _ in range(draw(st.integers(0, 4))):
        index = draw(st.integers(0, len(delivered) - 2))
        first, second = delivered[index], delivered[index + 1]
        if {first["sequence"], second["sequence"]} & moved or not (_is_incident(first) and _is_incident(second)):
            continue
        if first not in match or second not in match:
            continue
        delivered[index], delivered[index + 1] = second, first
        moved |= {first["sequence"], second["sequence"]}
    # Duplicates (exact copies later on) and conflicting copies (same sequence and id, other content, later on).
    for _ in range(draw(st.integers(0, 5))):
        index = draw(st.integers(0, len(delivered) - 1))
        copy = dict(delivered[index])
        if draw(st.booleans()):
            copy["occurred_at"] = "2026-11-22T15:59:59Z"  # other content under the same sequence and id
        delivered.insert(draw(st.integers(index + 1, len(delivered))), copy)
    return sorted(in_order, key=lambda e: e["sequence"]), delivered


def _projection(state: FeedState | None) -> dict[str, Any]:
    assert state is not None
    return state.model_dump(
        include={
            "match_period",
            "match_minute",
            "home_score",
            "away_score",
            "home_red_cards",
            "away_red_cards",
            "home_yellow_cards",
            "away_yellow_cards",
            "suspension_reason",
            "last_sequence",
            "result_revision",
        }
    )


@PROPERTIES
@given(deliveries())
def test_any_delivery_order_ends_in_the_in_order_state(feed: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    # Given the events in sequence order and a delivery with swaps, duplicates, conflicts and strays
    in_order, delivered = feed

    # When each is applied by the core
    expected, _ = play(in_order)
    actual, decisions = play(delivered)

    # Then every delivery has exactly one decision, and the fixture ends where the in-order feed ends (its
    # revision may be lower: an overtaken clock tick is skipped, not written), each write one revision more
    assert len(decisions) == len(delivered)
    assert _projection(actual) == _projection(expected)
    revisions = [d.state.revision for d in decisions if d.writes and d.state is not None]
    assert revisions == list(range(1, len(revisions) + 1))
    # A conflicting copy of an applied event is quarantined as a conflict, never applied
    applied = {
        (raw["sequence"], raw["event_id"]): json.dumps(raw, sort_keys=True)
        for raw, decision in zip(delivered, decisions, strict=True)
        if decision.writes
    }
    for raw, decision in zip(delivered, decisions, strict=True):
        original = applied.get((raw["sequence"], raw["event_id"]))
        if original is not None and json.dumps(raw, sort_keys=True) != original:
            assert decision.outcome == "conflict" and decision.error == "ConflictingDuplicate"


@PROPERTIES
@given(matches(), st.data())
def test_counters_held_back_until_after_full_time_correct_the_settled_result(
    match: list[dict[str, Any]], data: st.DataObject
) -> None:
    # Given a match, some of whose goals and cards are delivered only after full time
    counters = [e for e in match if e["type"] in COUNTING_TYPES]
    held = data.draw(st.lists(st.sampled_from(counters), unique_by=lambda e: e["sequence"])) if counters else []
    delivered = [e for e in match if e not in held] + held

    # When the feed is applied
    expected, _ = play(match)
    actual, decisions = play(delivered)

    # Then the settled result is the in-order one, each late counter is a correction of it, nothing is lost
    assert actual is not None and expected is not None
    result = ("home_score", "away_score", "home_red_cards", "away_red_cards", "home_yellow_cards", "away_yellow_cards")
    assert [getattr(actual, name) for name in result] == [getattr(expected, name) for name in result]
    assert actual.result_revision == 1 + len(held)
    assert [d.outcome for d in decisions[len(decisions) - len(held) :]] == ["late_counted"] * len(held)
    assert all(d.corrected_result for d in decisions[len(decisions) - len(held) :])


@PROPERTIES
@given(matches(), st.lists(st.tuples(st.sampled_from(list(TRANSITIONS)), st.integers(0, 120)), max_size=12))
def test_a_finished_match_never_reopens(match: list[dict[str, Any]], after: list[tuple[str, int]]) -> None:
    # Given a finished match
    finished, _ = play(match)
    assert finished is not None

    # When any events with newer sequences follow
    last = finished.last_sequence
    feed = [
        _incident(last + n + 1, "goal" if kind == "goal" else "red" if kind == "card" else kind, "home", minute)
        if kind in ("goal", "card", "clock", "var_check", "penalty_awarded")
        else created(last + n + 1)
        if kind == "fixture_created"
        else phase(last + n + 1, kind)
        for n, (kind, minute) in enumerate(after)
    ]
    state, decisions = play(feed, finished)

    # Then none is applied and the fixture is unchanged
    assert all(d.outcome in ("illegal_transition", "invalid") for d in decisions)
    assert state == finished


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["event_id", "fixture_id", "sport", "sequence", "occurred_at", "type", "team", "minute", "colour", "home_team"]
)


@PROPERTIES
@given(st.one_of(JSON, st.dictionaries(FIELDS, JSON)), st.sampled_from([None, "in_play", "finished"]))
def test_arbitrary_input_always_gets_a_decision_and_refusals_change_nothing(raw: Any, where: str | None) -> None:
    # Given a fixture (or none) and any JSON value, or an event whose fields hold any JSON
    feeds = {"in_play": [created(1), phase(2, "kick_off")], "finished": whole_match()}
    state = None if where is None else play(feeds[where])[0]

    # When it is decided
    decision = decide_feed_event(state, raw, now=NOW)

    # Then there is a decision; anything but a write leaves the state as it was, and a refusal says why
    if not decision.writes:
        assert decision.state == state
    if decision.outcome in ("invalid", "illegal_transition", "conflict"):
        assert decision.error and decision.field and decision.reason
