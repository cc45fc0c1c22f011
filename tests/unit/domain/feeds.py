"""Feed events for the domain-core tests: one helper per event type, each a raw JSON body as the API receives it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.domain.feed_rules import FeedDecision, decide_feed_event
from lambdas.domain.fixture import FeedState

FIXTURE_ID = "EPL-2026-ARS-CHE"
NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def event(sequence: int, type_: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": fields.pop("event_id", f"opta-{sequence:04d}"),
        "fixture_id": fields.pop("fixture_id", FIXTURE_ID),
        "sport": "football",
        "sequence": sequence,
        "occurred_at": fields.pop("occurred_at", "2026-11-22T15:00:00Z"),
        "type": type_,
        **fields,
    }


def created(sequence: int = 1, **fields: Any) -> dict[str, Any]:
    details = {
        "home_team": "Arsenal",
        "away_team": "Chelsea",
        "competition": "Premier League",
        "kick_off_at": "2026-11-22T15:00:00Z",
        "home_goals_expected": 1.6,
        "away_goals_expected": 1.1,
    }
    return event(sequence, "fixture_created", **(details | fields))


def goal(sequence: int, team: str = "home", minute: int = 10, **fields: Any) -> dict[str, Any]:
    return event(sequence, "goal", team=team, minute=minute, **fields)


def card(sequence: int, colour: str = "red", team: str = "away", minute: int = 10) -> dict[str, Any]:
    return event(sequence, "card", team=team, colour=colour, minute=minute)


def clock(sequence: int, minute: int) -> dict[str, Any]:
    return event(sequence, "clock", minute=minute)


def phase(sequence: int, type_: str) -> dict[str, Any]:
    return event(sequence, type_)


def whole_match(first: int = 1) -> list[dict[str, Any]]:
    """Created, kick-off, a goal each half, half time, second half, full time, in sequence order."""
    return [
        created(first),
        phase(first + 1, "kick_off"),
        goal(first + 2, "home", 20),
        phase(first + 3, "half_time"),
        phase(first + 4, "second_half_kick_off"),
        goal(first + 5, "away", 70),
        phase(first + 6, "full_time"),
    ]


def play(events: list[Any], state: FeedState | None = None) -> tuple[FeedState | None, list[FeedDecision]]:
    """Each event decided against the state the ones before it left, as the workflow does; every write is
    taken as published (its claim and publication succeeded)."""
    decisions = []
    for raw in events:
        decision = decide_feed_event(state, raw, now=NOW)
        decisions.append(decision)
        if decision.writes:
            assert decision.state is not None
            state = decision.state.model_copy(update={"published_revision": decision.state.revision})
    return state, decisions
