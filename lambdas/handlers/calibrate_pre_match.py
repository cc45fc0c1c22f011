"""Pre-match task of the trader-command workflow: any form of ``set_pre_match`` in, the model's inputs out.

The trader gives the pre-match inputs as goal expectations, as supremacy and total, or as market odds to
calibrate from (lambdas/models/trader_commands.py). This function turns each into what the fixture holds and the
pricing Lambda reads: each side's expected goals and, when calibrated from odds, the Dixon-Coles rho. It reads
and writes nothing; the workflow writes its answer under the fixture's revision guard.

Odds are calibrated as ``make price --odds`` does: the margin is removed, then goal expectations and rho are
solved so that the model reproduces the fair home/draw/away and over/under 2.5 probabilities exactly
(docs/pricing.md). Inputs the model cannot take are answered ``{"refused": "<field>: <reason>"}``, which the
workflow turns into a 400. A refusal is an answer, not a failure of this function: raising would count as a Lambda
error, trip the function's error alarm and page operations for a trader's typo.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter, ValidationError

from lambdas.models.trader_commands import PreMatchCommand, SetPreMatch, SetPreMatchFromOdds
from lambdas.observability import logger, tracer
from lambdas.pricing import PricingRequest, price_fixture
from lambdas.pricing.model import DEFAULT_RHO, PricingInputError, goal_expectations_from_supremacy
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
    # from pricing the result once (_check_priceable)
    "home_goals": "home_goals_expected",
    "away_goals": "away_goals_expected",
    "rho": "odds.draw",
}


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


def _check_priceable(inputs: dict[str, float | None]) -> None:
    """Every later book of the fixture is priced from what is stored: it must price now."""
    rho = inputs["dixon_coles_rho"]
    home, away = inputs["home_goals_expected"], inputs["away_goals_expected"]
    assert home is not None and away is not None  # pre_match_inputs always sets both
    price_fixture(PricingRequest(home, away, rho=DEFAULT_RHO if rho is None else rho))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(payload: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"command": <set_pre_match body>}`` in; the goal expectations and rho to store, or the refusal, out."""
    try:
        inputs = pre_match_inputs(_PRE_MATCH_COMMAND.validate_python(payload.get("command")))
        _check_priceable(inputs)
    except ValidationError as error:
        refusal = _first_problem(error)
    except PricingInputError as error:
        refusal = f"{_API_FIELD.get(error.field, error.field)}: {error.reason}"
    else:
        logger.info("pre-match inputs", extra=inputs)
        return inputs
    logger.info("pre-match inputs refused", extra={"refusal": refusal})
    return {"refused": refusal}
