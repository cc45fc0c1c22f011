"""First task of the trader-command workflow: the command validated, and ``set_pre_match`` turned into model inputs.

API Gateway's validator cannot say which field is wrong (docs/trader-api.md), so the API only checks that the body
is an object with a command and no unknown field; this function validates the rest with the models
(lambdas/models/trader_commands.py) and answers ``{"refused": "<field>: <reason>"}``, which the workflow turns into
a 400. A refusal is an answer, not a failure of this function: raising would count as a Lambda error, trip the
function's error alarm and page operations for a trader's typo. It reads and writes nothing, and runs before the
fixture is loaded, so a refused command changes and audits nothing.

The trader gives the pre-match inputs as goal expectations, as supremacy and total, or as market odds to
calibrate from. For ``set_pre_match`` the answer is what the fixture then holds and the pricing Lambda reads: each
side's expected goals and, when calibrated from odds, the Dixon-Coles rho. Odds are calibrated as
``make price --odds`` does: the margin is removed, then goal expectations and rho are solved so that the model
reproduces the fair home/draw/away and over/under 2.5 probabilities exactly (docs/pricing.md). A suspension or
resumption of one market (a type and its line) is answered with the market's key as the fixture keeps it
(``{"market": "total_goals#2.5"}``); any other command with ``{}``: the workflow applies it as sent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter, ValidationError

from lambdas.models.trader_commands import (
    PreMatchCommand,
    Resume,
    SetPreMatch,
    SetPreMatchFromOdds,
    Suspend,
    TraderCommand,
)
from lambdas.observability import logger, tracer

_TRADER_COMMAND: TypeAdapter[TraderCommand] = TypeAdapter(TraderCommand)

# The pricing package names its inputs as its own functions do; the API names them as the command does.
_API_FIELD = {
    "supremacy": "supremacy",
    "total": "total_goals_expected",
    "odds (home, draw, away)": "odds.home, odds.draw, odds.away",
    "odds (over25, under25)": "odds.over_2_5, odds.under_2_5",
    "odds (draw)": "odds.draw",
    "margin_method": "margin_method",
    # from pricing the result once, before it is stored
    "home_goals": "home_goals_expected",
    "away_goals": "away_goals_expected",
    "rho": "odds.draw",
}


def _first_problem(error: ValidationError) -> str:
    problem = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in problem["loc"][1:])  # [0] is the form's tag
    if problem["type"] == "invalid_command" or not location:
        # the command's own check (a discriminator, a model validator) names the field itself
        return str(problem["msg"]).removeprefix("Value error, ")
    return f"{location}: {problem['msg']}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"command": <body>}`` in; the refusal, the pre-match inputs to store, one market's key, or ``{}`` out."""
    try:
        # Strict, as JSON Schema is: "0.05" is not a margin, 60.0 is not a number of seconds.
        command = _TRADER_COMMAND.validate_python(payload.get("command"), strict=True)
    except ValidationError as error:
        return _refused(_first_problem(error))
    if isinstance(command, Suspend | Resume) and command.line is not None:
        # One market: kept on the fixture as "type#line", written the same way whether the trader sent 2 or 2.0,
        # so a resume finds the suspension it ends.
        return {"market": f"{command.market_type}#{float(command.line)!r}"}
    if not isinstance(command, PreMatchCommand):
        return {}
    return _pre_match_inputs(command)


def _pre_match_inputs(command: PreMatchCommand) -> dict[str, Any]:
    """What the fixture holds after ``set_pre_match``; ``dixon_coles_rho`` is None unless calibrated from odds.

    The pricing package (numpy and the engine) is imported here, on the first set_pre_match only: every other
    command is answered without it, so a cold start does not hold up a trader's suspension by loading it.
    """
    from lambdas.pricing import PricingRequest, price_fixture
    from lambdas.pricing.model import DEFAULT_RHO, PricingInputError, goal_expectations_from_supremacy
    from lambdas.pricing.odds import dixon_coles_from_odds

    rho: float | None = None
    try:
        if isinstance(command, SetPreMatch):
            home, away = command.home_goals_expected, command.away_goals_expected
        elif isinstance(command, SetPreMatchFromOdds):
            odds = command.odds
            home, away, rho = dixon_coles_from_odds(
                odds.home, odds.draw, odds.away, odds.over_2_5, odds.under_2_5, margin_method=command.margin_method
            )
        else:
            home, away = goal_expectations_from_supremacy(command.supremacy, command.total_goals_expected)
        # Every later book of the fixture is priced from what is stored: it must price now.
        price_fixture(PricingRequest(home, away, rho=DEFAULT_RHO if rho is None else rho))
    except PricingInputError as error:
        return _refused(f"{_API_FIELD.get(error.field, error.field)}: {error.reason}")
    inputs = {"home_goals_expected": home, "away_goals_expected": away, "dixon_coles_rho": rho}
    logger.info("pre-match inputs", extra=inputs)
    return inputs


def _refused(refusal: str) -> dict[str, str]:
    logger.info("command refused", extra={"refusal": refusal})
    return {"refused": refusal}
