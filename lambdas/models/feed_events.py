"""Feed events as the on-prem forwarder pushes them: one envelope, a payload per event type.

The JSON schema that API Gateway validates against (docs/schemas/feed-event.schema.json) is generated
from these models by ``python -m lambdas.models.schema``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

FixtureId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_-]{1,48}$",
        description="Feed supplier's fixture id; letters, digits, _ and - only (it becomes part of the execution name)",
        examples=["EPL-2026-ARS-CHE"],
    ),
]
EventId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="Feed supplier's unique id of this event"),
]
Sequence = Annotated[
    int,
    Field(
        ge=1,
        le=9_007_199_254_740_991,  # 2**53 - 1: exact in every JSON parser on the path
        description="Per-fixture feed sequence, strictly increasing; the ordering and duplicate guard",
    ),
]
Minute = Annotated[
    int,
    Field(
        ge=0,
        le=120,
        description="Match clock in minutes (above 90: second-half stoppage; at most 120, the pricing model's limit)",
    ),
]
Team = Literal["home", "away"]
TeamName = Annotated[str, Field(min_length=1, max_length=80)]
# The pricing model's valid range (lambdas/pricing/model.py; a unit test keeps the two equal).
MIN_GOAL_EXPECTATION = 0.05
MAX_GOAL_EXPECTATION = 6.0
GoalExpectation = Annotated[
    float,
    Field(ge=MIN_GOAL_EXPECTATION, le=MAX_GOAL_EXPECTATION, description="Pre-match expected goals for the whole match"),
]


class _FeedEventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: EventId
    fixture_id: FixtureId
    sport: Literal["football"]
    sequence: Sequence
    occurred_at: Annotated[AwareDatetime, Field(description="When it happened, RFC 3339 with a time zone")]


class FixtureCreated(_FeedEventBase):
    """A new fixture, or a correction of one; the opening goal expectations come from the on-prem model."""

    type: Literal["fixture_created"]
    home_team: TeamName
    away_team: TeamName
    competition: Annotated[str, Field(min_length=1, max_length=80)]
    kick_off_at: AwareDatetime
    home_goals_expected: GoalExpectation
    away_goals_expected: GoalExpectation


class KickOff(_FeedEventBase):
    type: Literal["kick_off"]


class Goal(_FeedEventBase):
    type: Literal["goal"]
    team: Team
    minute: Minute


class Card(_FeedEventBase):
    type: Literal["card"]
    team: Team
    colour: Literal["yellow", "red"]
    minute: Minute


class PenaltyAwarded(_FeedEventBase):
    type: Literal["penalty_awarded"]
    team: Team
    minute: Minute


class VarCheck(_FeedEventBase):
    type: Literal["var_check"]
    minute: Minute


class Clock(_FeedEventBase):
    type: Literal["clock"]
    minute: Minute


class HalfTime(_FeedEventBase):
    type: Literal["half_time"]


class SecondHalfKickOff(_FeedEventBase):
    type: Literal["second_half_kick_off"]


class FullTime(_FeedEventBase):
    type: Literal["full_time"]


FeedEvent = Annotated[
    FixtureCreated
    | KickOff
    | Goal
    | Card
    | PenaltyAwarded
    | VarCheck
    | Clock
    | HalfTime
    | SecondHalfKickOff
    | FullTime,
    Field(discriminator="type"),
]
