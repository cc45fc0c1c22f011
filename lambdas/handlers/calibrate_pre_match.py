"""Pre-match task of the trader-command workflow: any form of ``set_pre_match`` in, the model's inputs out.

The trader gives the pre-match inputs as goal expectations, as supremacy and total, or as market odds to
calibrate from (lambdas/models/trader_commands.py). This function turns each into what the fixture holds and the
pricing Lambda reads: each side's expected goals and, when calibrated from odds, the Dixon-Coles rho. It reads
and writes nothing; the workflow writes its answer under the fixture's revision guard.

Odds are calibrated as ``make price --odds`` does: the margin is removed, then goal expectations and rho are
solved so that the model reproduces the fair home/draw/away and over/under 2.5 probabilities exactly
(docs/pricing.md). Inputs the model cannot reproduce are refused naming the field, and the workflow answers 400.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter, ValidationError

from lambdas.models.trader_commands import PreMatchCommand, SetPreMatch, SetPreMatchFromOdds
from lambdas.observability import logger, tracer
from lambdas.pricing.model import PricingInputError, goal_expectations_from_supremacy
from lambdas.pricing.odds import dixon_coles_from_odds

_PRE_MATCH_COMMAND: TypeAdapter[PreMatchCommand] = TypeAdapter(PreMatchCommand)

# The pricing package names its inputs as its own functions do; the API names them as the command does.
_API_FIELD = {
    "supremacy": "supremacy",
    "total": "total_goals_expected",
    "odds (home, draw, away)": "odds.home, odds.draw, odds.away",
    "odds (over25, under25)": "odds.over_2_5, odds.under_2_5",
    "odds (draw)": "odds.draw",
    "margin_method": "margin_method",
}


class InvalidPreMatchInputs(Exception):  # noqa: N818 - the name is the error the workflow catches, as Lambda reports it
    """Raised for inputs the model cannot take; Lambda reports the class name as the error type."""


def pre_match_inputs(command: PreMatchCommand) -> dict[str, float | None]:
    """The fixture attributes a ``set_pre_match`` command sets; ``dixon_coles_rho`` is None unless calibrated."""
    if isinstance(command, SetPreMatch):
        return {
            "home_goals_expected": command.home_goals_expected,
            "away_goals_expected": command.away_goals_expected,
            "dixon_coles_rho": None,
        }
    if isinstance(command, SetPreMatchFromOdds):
        odds = command.odds
        home, away, rho = dixon_coles_from_odds(
            odds.home, odds.draw, odds.away, odds.over_2_5, odds.under_2_5, margin_method=command.margin_method
        )
        return {"home_goals_expected": home, "away_goals_expected": away, "dixon_coles_rho": rho}
    home, away = goal_expectations_from_supremacy(command.supremacy, command.total_goals_expected)
    return {"home_goals_expected": home, "away_goals_expected": away, "dixon_coles_rho": None}


def _first_problem(error: ValidationError) -> str:
    problem = error.errors(include_url=False)[0]
    if problem["type"] == "invalid_command":
        return str(problem["msg"])  # names the field itself
    location = ".".join(str(part) for part in problem["loc"][1:])  # [0] is the form's tag
    return f"{location}: {problem['msg']}"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, float | None]:
    """``{"command": <set_pre_match body>}`` in; the goal expectations and rho to store out."""
    try:
        command = _PRE_MATCH_COMMAND.validate_python(payload.get("command"))
    except ValidationError as error:
        raise InvalidPreMatchInputs(_first_problem(error)) from None
    try:
        inputs = pre_match_inputs(command)
    except PricingInputError as error:
        raise InvalidPreMatchInputs(f"{_API_FIELD.get(error.field, error.field)}: {error.reason}") from None
    logger.info("pre-match inputs", extra={"form": type(command).__name__, **inputs})
    return inputs
