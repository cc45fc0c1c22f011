"""Trader commands as the trader API accepts them: one body per command, told apart by ``command``.

The JSON schema API Gateway validates against (docs/schemas/trader-command.schema.json) is generated from
these models by ``python -m lambdas.models.schema``, so a bad command is refused at the edge with a 400
naming the field, before anything is written. The trader-command workflow applies them
(statemachines/trader_command.asl.json) and the pricing Lambda reads the settings they leave on the fixture.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from lambdas.models.feed_events import MAX_GOAL_EXPECTATION, MIN_GOAL_EXPECTATION, GoalExpectation

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
    """The model's inputs before kick-off, as each side's expected goals over the whole match."""

    command: Literal["set_pre_match"]
    home_goals_expected: GoalExpectation
    away_goals_expected: GoalExpectation


class SetPreMatchFromSupremacy(_Command):
    """The model's inputs before kick-off, as supremacy and total: home goals = (total + supremacy) / 2."""

    command: Literal["set_pre_match"]
    supremacy: Annotated[
        float,
        Field(
            ge=-(MAX_GOAL_EXPECTATION - MIN_GOAL_EXPECTATION),
            le=MAX_GOAL_EXPECTATION - MIN_GOAL_EXPECTATION,
            description="Expected home goals minus expected away goals, over the whole match",
        ),
    ]
    total_goals_expected: Annotated[
        float,
        Field(
            ge=2 * MIN_GOAL_EXPECTATION,
            le=2 * MAX_GOAL_EXPECTATION,
            description="Expected goals of both sides together, over the whole match",
        ),
    ]


DecimalPrice = Annotated[float, Field(gt=1.0, le=1000.0, description="Decimal odds")]


class PreMatchOdds(BaseModel):
    """Market prices to calibrate from: the 1X2 prices and over/under 2.5 goals, margin included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: DecimalPrice
    draw: DecimalPrice
    away: DecimalPrice
    over_2_5: DecimalPrice
    under_2_5: DecimalPrice


class SetPreMatchFromOdds(_Command):
    """The model's inputs calibrated from market odds: the margin is removed (``margin_method``), then goal
    expectations and Dixon-Coles rho are solved so the model reproduces all five fair probabilities exactly."""

    command: Literal["set_pre_match"]
    odds: PreMatchOdds
    margin_method: Literal["power", "shin", "multiplicative"] = "power"


class OverridePrice(_Command):
    """Offer a fixed decimal price on one selection for a period; the rest of the market is priced around it."""

    command: Literal["override_price"]
    market_type: MarketType
    line: Annotated[float | None, Field(ge=-20, le=20, multiple_of=0.25)] = None
    selection: SelectionName
    price: Annotated[float, Field(gt=1.0, le=1000.0, description="Decimal odds")]
    for_seconds: Annotated[int, Field(ge=1, le=MAX_OVERRIDE_SECONDS)]


# The three forms of set_pre_match share the command name; the field that names the form tells them apart.
_PRE_MATCH_FORMS = (("odds", "set_pre_match:odds"), ("supremacy", "set_pre_match:supremacy"))


def _command_form(value: object) -> str | None:
    """The union member a body is validated as: its command, and for set_pre_match the form its fields name."""
    fields = value if isinstance(value, dict) else getattr(value, "__dict__", {})
    command = fields.get("command")
    if command != "set_pre_match":
        return command if isinstance(command, str) else None
    for field, form in _PRE_MATCH_FORMS:
        if field in fields:
            return form
    if "total_goals_expected" in fields:
        return "set_pre_match:supremacy"
    return "set_pre_match"


TraderCommand = Annotated[
    Annotated[Suspend, Tag("suspend")]
    | Annotated[Resume, Tag("resume")]
    | Annotated[SetMargin, Tag("set_margin")]
    | Annotated[SetPreMatch, Tag("set_pre_match")]
    | Annotated[SetPreMatchFromSupremacy, Tag("set_pre_match:supremacy")]
    | Annotated[SetPreMatchFromOdds, Tag("set_pre_match:odds")]
    | Annotated[OverridePrice, Tag("override_price")],
    Discriminator(
        _command_form,
        custom_error_type="invalid_command",
        custom_error_message="command: must be one of suspend, resume, set_margin, set_pre_match, override_price",
    ),
]
# The forms of set_pre_match (lambdas/handlers/check_trader_command.py turns each into the model's inputs).
PreMatchCommand = SetPreMatch | SetPreMatchFromSupremacy | SetPreMatchFromOdds
