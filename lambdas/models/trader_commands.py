"""Trader commands as the trader API accepts them: one body per command, told apart by ``command``.

The JSON schema API Gateway validates against (docs/schemas/trader-command.schema.json) is generated from
these models by ``python -m lambdas.models.schema``, so a bad command is refused at the edge with a 400
naming the field, before anything is written. The trader-command workflow applies them
(statemachines/trader_command.asl.json) and the pricing Lambda reads the settings they leave on the fixture.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambdas.models.feed_events import GoalExpectation

MarketType = Literal[
    "match_result",
    "double_chance",
    "draw_no_bet",
    "total_goals",
    "both_teams_to_score",
    "correct_score",
    "asian_handicap",
    "team_total",
]
Margin = Annotated[
    float,
    Field(ge=0.0, le=0.5, description="Target overround as a fraction of 1: 0.05 offers a 105 % book"),
]
SelectionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:+-]{1,32}$", description="As named in the book")]
# The longest an override may last: a forgotten override must not outlive a match.
MAX_OVERRIDE_SECONDS = 3 * 60 * 60


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Suspend(_Command):
    """Suspend one market type, or (without ``market_type``) the whole fixture."""

    command: Literal["suspend"]
    market_type: MarketType | None = None


class Resume(_Command):
    """Undo a trader's suspension (an incident's suspension still ends with the next clock tick)."""

    command: Literal["resume"]
    market_type: MarketType | None = None


class SetMargin(_Command):
    command: Literal["set_margin"]
    market_type: MarketType
    margin: Margin


class SetPreMatch(_Command):
    """The model's inputs before kick-off: each side's expected goals over the whole match."""

    command: Literal["set_pre_match"]
    home_goals_expected: GoalExpectation
    away_goals_expected: GoalExpectation


class OverridePrice(_Command):
    """Offer a fixed decimal price on one selection for a period; the rest of the market is priced around it."""

    command: Literal["override_price"]
    market_type: MarketType
    line: Annotated[float | None, Field(ge=-20, le=20, multiple_of=0.25)] = None
    selection: SelectionName
    price: Annotated[float, Field(gt=1.0, le=1000.0, description="Decimal odds")]
    for_seconds: Annotated[int, Field(ge=1, le=MAX_OVERRIDE_SECONDS)]


TraderCommand = Annotated[
    Suspend | Resume | SetMargin | SetPreMatch | OverridePrice,
    Field(discriminator="command"),
]
