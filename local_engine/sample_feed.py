"""A seeded sample feed: whole football matches as the data supplier sends them, with the usual faults.

The same seed always gives the same feed, so a demo run and its accounting can be reproduced exactly.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TEAMS = [
    ("ARS", "Arsenal"),
    ("CHE", "Chelsea"),
    ("LIV", "Liverpool"),
    ("MCI", "Manchester City"),
    ("MUN", "Manchester United"),
    ("TOT", "Tottenham Hotspur"),
    ("NEW", "Newcastle United"),
    ("AVL", "Aston Villa"),
    ("BHA", "Brighton"),
    ("WHU", "West Ham United"),
    ("EVE", "Everton"),
    ("FUL", "Fulham"),
    ("BRE", "Brentford"),
    ("CRY", "Crystal Palace"),
    ("WOL", "Wolverhampton"),
    ("BOU", "Bournemouth"),
]
KICK_OFF = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
CLOCK_EVERY_MINUTES = 3


@dataclass(frozen=True)
class FeedFaults:
    """How often the supplier misbehaves, as fractions of the events sent."""

    duplicates: float = 0.05  # an event sent again later
    reordered: float = 0.04  # a clock tick overtaken by the next event of its fixture
    malformed: float = 0.02  # a field missing or of the wrong kind


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as the feed sends times."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FixtureFeed:
    """One fixture's events in feed order: each added event gets the next sequence and an id of its own."""

    fixture_id: str
    kick_off: datetime
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, minutes_from_kick_off: float, event_type: str, **fields: Any) -> None:
        sequence = len(self.events) + 1
        self.events.append(
            {
                "event_id": f"{self.fixture_id}-{sequence:04d}",
                "fixture_id": self.fixture_id,
                "sport": "football",
                "sequence": sequence,
                "occurred_at": stamp(self.kick_off + timedelta(minutes=minutes_from_kick_off)),
                "type": event_type,
                **fields,
            }
        )


def _match(rng: random.Random, index: int, home: tuple[str, str], away: tuple[str, str]) -> list[dict[str, Any]]:
    """One fixture from creation to full time, in feed order."""
    fixture_id = f"EPL-2026-{home[0]}-{away[0]}"
    expected = {"home": round(rng.uniform(1.0, 2.1), 2), "away": round(rng.uniform(0.7, 1.7), 2)}
    kick_off = KICK_OFF + timedelta(minutes=15 * (index % 3))
    feed = FixtureFeed(fixture_id, kick_off)
    events, add = feed.events, feed.add

    add(
        -180,
        "fixture_created",
        home_team=home[1],
        away_team=away[1],
        competition="Premier League",
        kick_off_at=stamp(kick_off),
        home_goals_expected=expected["home"],
        away_goals_expected=expected["away"],
    )
    add(0, "kick_off")
    for first_minute, last_minute, break_minutes in ((1, 45, 0), (46, 90, 15)):
        if break_minutes:
            add(45 + break_minutes, "second_half_kick_off")
        for minute in range(first_minute, last_minute + 1):
            wall = minute + break_minutes + rng.random() * 0.9
            if _incidents(rng, minute, wall, add, expected) or minute % CLOCK_EVERY_MINUTES == 0:
                add(wall + 0.5, "clock", minute=minute)  # the clock moving on reopens suspended markets
        if not break_minutes:
            add(45 + 2, "half_time")
    add(90 + 15 + 4, "full_time")
    return events


def _incidents(rng: random.Random, minute: int, wall: float, add: Any, expected: dict[str, float]) -> bool:
    """Goals (at the teams' expected rates), penalties, VAR checks and cards in one minute; True if any."""
    happened = False
    for team, goals_expected in expected.items():
        if rng.random() < goals_expected / 90 * 1.05:
            if rng.random() < 0.1:
                add(wall - 0.3, "penalty_awarded", team=team, minute=minute)
            if rng.random() < 0.15:
                add(wall - 0.1, "var_check", minute=minute)
            add(wall, "goal", team=team, minute=minute)
            happened = True
        if rng.random() < 0.02:
            add(wall, "card", team=team, colour="yellow", minute=minute)
            happened = True
        if rng.random() < 0.0015:
            add(wall, "card", team=team, colour="red", minute=minute)
            happened = True
    return happened


def sample_feed(*, fixtures: int = 6, seed: int = 7, faults: FeedFaults = FeedFaults()) -> list[Any]:
    """Whole matches for ``fixtures`` fixtures, interleaved by time, with duplicates, reordering and bad events."""
    if not 1 <= fixtures <= len(TEAMS) // 2:
        raise ValueError(f"fixtures: must be between 1 and {len(TEAMS) // 2}, got {fixtures}")
    rng = random.Random(seed)
    teams = TEAMS[:]
    rng.shuffle(teams)
    matches = [_match(rng, index, teams[2 * index], teams[2 * index + 1]) for index in range(fixtures)]
    feed: list[dict[str, Any]] = sorted(
        (e for m in matches for e in m), key=lambda e: (e["occurred_at"], e["fixture_id"])
    )
    return _with_faults(feed, rng, faults)


def _with_faults(feed: list[dict[str, Any]], rng: random.Random, faults: FeedFaults) -> list[Any]:
    sent: list[Any] = []
    held_back: dict[str, dict[str, Any]] = {}
    for event in feed:
        fixture = event["fixture_id"]
        if event["type"] == "clock" and fixture not in held_back and rng.random() < faults.reordered:
            held_back[fixture] = event  # the supplier's next event for this fixture overtakes it
            continue
        sent.append(event)
        if fixture in held_back:
            sent.append(held_back.pop(fixture))
        if rng.random() < faults.duplicates:
            sent.insert(min(len(sent), len(sent) + rng.randint(0, 4)), dict(event))
        if rng.random() < faults.malformed:
            sent.append(_malformed(event, rng))
    sent.extend(held_back.values())
    return sent


def _malformed(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    broken = dict(event, event_id=f"{event['event_id']}-bad")
    fault = rng.choice(["no_sequence", "bad_type", "unknown_fixture", "no_team"])
    if fault == "no_sequence":
        broken.pop("sequence")
    elif fault == "bad_type":
        broken["type"] = "corner_kick"
    elif fault == "unknown_fixture":
        broken["fixture_id"] = "EPL-2026-XXX-YYY"
        broken["type"] = "clock"
        broken["minute"] = 1
    else:
        broken.update(type="goal", minute=broken.get("minute", 1))
        broken.pop("team", None)
    return broken


def as_json_lines(events: list[Any]) -> Iterator[str]:
    for event in events:
        yield json.dumps(event, separators=(",", ":"))
