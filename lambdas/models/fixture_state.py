"""A fixture's state as the feed workflow leaves it in DynamoDB (the item returned by its conditional update)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MatchPhase = Literal["pre_match", "in_play", "half_time", "full_time"]


class FixtureState(BaseModel):
    """Attribute names are the ones the workflow's update expressions write (statemachines/feed_event.asl.json)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fixture_id: str
    sport: Literal["football"]
    last_sequence: Annotated[int, Field(ge=1)]
    last_event_type: str
    home_team: str
    away_team: str
    home_goals_expected: Annotated[float, Field(gt=0)]
    away_goals_expected: Annotated[float, Field(gt=0)]
    match_phase: MatchPhase
    match_minute: Annotated[float, Field(ge=0)] = 0
    home_score: Annotated[int, Field(ge=0)] = 0
    away_score: Annotated[int, Field(ge=0)] = 0
    home_red_cards: Annotated[int, Field(ge=0)] = 0
    away_red_cards: Annotated[int, Field(ge=0)] = 0
    suspension_reason: str | None = None
