"""The match-phase state machine: which feed event is legal in which period, and where it leads.

One table, ``TRANSITIONS``; docs/feed-events.md's transition table is generated from it (``python -m
lambdas.domain.match_phases``) and a test fails when the committed document differs.

Periods refine the pricing model's four phases: the model prices ``in_play`` the same in either half, but the
rules do not (half time follows the first half only, full time the second half only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "none" is a fixture that does not exist yet: only fixture_created is legal there.
Period = Literal["none", "pre_match", "first_half", "half_time", "second_half", "full_time"]
PricingPhase = Literal["pre_match", "in_play", "half_time", "full_time"]
EventType = Literal[
    "fixture_created",
    "kick_off",
    "goal",
    "card",
    "penalty_awarded",
    "var_check",
    "clock",
    "half_time",
    "second_half_kick_off",
    "full_time",
]

PERIODS: tuple[Period, ...] = ("none", "pre_match", "first_half", "half_time", "second_half", "full_time")
IN_PLAY: frozenset[Period] = frozenset({"first_half", "second_half"})
PRICING_PHASE: dict[Period, PricingPhase] = {
    "pre_match": "pre_match",
    "first_half": "in_play",
    "half_time": "half_time",
    "second_half": "in_play",
    "full_time": "full_time",
}
# The match clock's range in each half: first-half stoppage stays at minute 45 until half time, and the
# second half runs from 45 to the pricing model's last minute (lambdas/pricing/model.py MAX_MINUTE).
MINUTES_IN_PERIOD: dict[Period, tuple[int, int]] = {"first_half": (0, 45), "second_half": (45, 120)}
# Goals and cards are counters: they commute, so one that arrives after a newer event is still counted
# (once), if the match was in play at its sequence.
COUNTING_TYPES: frozenset[str] = frozenset({"goal", "card"})


@dataclass(frozen=True)
class Transition:
    """Where one event type is legal (``from_periods``), the period it leads to, and what it does."""

    event_type: EventType
    from_periods: tuple[Period, ...]
    to_period: Period | None  # None: the period does not change
    effect: str
    # The quarantine error when it arrives in any other period.
    refusal: Literal["UnknownFixture", "NotInPlay", "IllegalTransition"]


_INCIDENT_PERIODS: tuple[Period, ...] = ("first_half", "second_half")

TRANSITIONS: dict[str, Transition] = {
    transition.event_type: transition
    for transition in (
        Transition(
            "fixture_created",
            ("none", "pre_match"),
            "pre_match",
            "creates the fixture, or corrects its teams, competition, kick-off time and goal expectations "
            "(a trader's calibration is dropped)",
            "IllegalTransition",
        ),
        Transition("kick_off", ("pre_match",), "first_half", "minute 0, markets open", "IllegalTransition"),
        Transition(
            "goal", _INCIDENT_PERIODS, None, "score +1; markets suspended until the next clock tick", "NotInPlay"
        ),
        Transition(
            "card",
            _INCIDENT_PERIODS,
            None,
            "card counted; a red card suspends the markets until the next clock tick",
            "NotInPlay",
        ),
        Transition("penalty_awarded", _INCIDENT_PERIODS, None, "markets suspended", "NotInPlay"),
        Transition("var_check", _INCIDENT_PERIODS, None, "markets suspended", "NotInPlay"),
        Transition("clock", _INCIDENT_PERIODS, None, "the clock moves on; suspended markets reopen", "NotInPlay"),
        Transition("half_time", ("first_half",), "half_time", "minute 45", "IllegalTransition"),
        Transition(
            "second_half_kick_off", ("half_time",), "second_half", "minute 45, markets reopen", "IllegalTransition"
        ),
        Transition(
            "full_time",
            ("second_half",),
            "full_time",
            "every market closes; the final result (result revision 1) goes to settlement",
            "IllegalTransition",
        ),
    )
}


def refusal_for(event_type: str, period: Period) -> str | None:
    """The quarantine error for ``event_type`` in ``period``, or None where the transition is legal."""
    transition = TRANSITIONS[event_type]
    if period in transition.from_periods:
        return None
    return "UnknownFixture" if period == "none" else transition.refusal


def transition_table_markdown() -> str:
    """docs/feed-events.md's transition table: one row per event type, a column per period."""
    periods = PERIODS
    lines = [
        "| event | " + " | ".join(f"`{period}`" for period in periods) + " | effect |",
        "|---|" + "---|" * len(periods) + "---|",
    ]
    for transition in TRANSITIONS.values():
        cells = []
        for period in periods:
            if period in transition.from_periods:
                cells.append(f"-> `{transition.to_period}`" if transition.to_period else "applied")
            else:
                cells.append("UnknownFixture" if period == "none" else transition.refusal)
        lines.append(f"| `{transition.event_type}` | " + " | ".join(cells) + f" | {transition.effect} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(transition_table_markdown(), end="")
