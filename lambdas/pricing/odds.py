"""Goal expectations from market odds: margin removed first, then an exact solve.

Two facts make the solve exact and cheap (proved in docs/pricing.md):

* P(over 2.5) depends only on the total ``t = home + away``: the four Dixon–Coles cells all have at most two
  goals and their changes sum to zero, so ``P(over 2.5) = 1 - e^-t (1 + t + t^2 / 2)`` as for independent
  Poisson goals (the distribution of 0, 1 and 2 goals does change with rho);
* P(home) - P(away) is unchanged by the Dixon–Coles factors (the 1-0 and 0-1 cells gain the same amount).

So ``t`` is the root of a one-dimensional monotone equation in the over/under price, then the home share is the
root of a monotone equation in P(home) - P(away), both independent of rho. The draw price then pins rho:
the factors move the draw probability by exactly ``-2 rho home away e^-t``.
"""

from __future__ import annotations

import math

import numpy as np

from lambdas.pricing.margins import DEFAULT_MARGIN_METHOD, check_margin_method, remove_margin
from lambdas.pricing.model import (
    DEFAULT_RHO,
    MATRIX_SIZE,
    MAX_GOAL_EXPECTATION,
    MAX_TOTAL_GOALS,
    MIN_GOAL_EXPECTATION,
    MIN_TOTAL_GOALS,
    PricingInputError,
    check_rho,
    clamp_goal_expectation,
    dixon_coles_matrices,
)

_BISECTIONS = 200


def probability_over_two_and_a_half(total: float) -> float:
    """``P(total goals >= 3)`` for Poisson total goals with mean ``total`` (unchanged by Dixon–Coles)."""
    return 1.0 - math.exp(-total) * (1.0 + total + total * total / 2.0)


def _home_minus_away(home: np.ndarray, away: np.ndarray) -> np.ndarray:
    matrices = dixon_coles_matrices(home, away, np.zeros_like(home))
    goals = np.arange(MATRIX_SIZE)
    sign = np.sign(goals[:, None] - goals[None, :])
    return (matrices * sign).sum(axis=(1, 2))


def _bisect(function, low: float, high: float) -> float:
    # function is increasing on [low, high] with a sign change; 200 halvings reach adjacent floats.
    for _ in range(_BISECTIONS):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if function(middle) < 0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _fair_targets(
    home: float, draw: float, away: float, over25: float, under25: float, margin_method: str
) -> tuple[np.ndarray, float]:
    check_margin_method(margin_method)
    try:
        result = remove_margin([home, draw, away], margin_method)
    except PricingInputError as error:
        raise PricingInputError("odds (home, draw, away)", error.reason) from None
    try:
        over = remove_margin([over25, under25], margin_method)[0]
    except PricingInputError as error:
        raise PricingInputError("odds (over25, under25)", error.reason) from None
    return result, float(over)


def _solve_expectations(result: np.ndarray, over: float) -> tuple[float, float]:
    lowest, highest = (probability_over_two_and_a_half(t) for t in (MIN_TOTAL_GOALS, MAX_TOTAL_GOALS))
    if not lowest <= over <= highest:
        raise PricingInputError(
            "odds (over25, under25)",
            f"fair P(over 2.5) = {over:.6f} needs a total outside [{MIN_TOTAL_GOALS}, {MAX_TOTAL_GOALS}] goals",
        )
    total = _bisect(lambda t: probability_over_two_and_a_half(t) - over, MIN_TOTAL_GOALS, MAX_TOTAL_GOALS)
    supremacy_target = float(result[0] - result[2])
    low = max(MIN_GOAL_EXPECTATION, total - MAX_GOAL_EXPECTATION)
    high = min(MAX_GOAL_EXPECTATION, total - MIN_GOAL_EXPECTATION)

    def gap(home: float) -> float:
        return float(_home_minus_away(np.array([home]), np.array([total - home]))[0]) - supremacy_target

    if gap(low) > 0 or gap(high) < 0:
        raise PricingInputError(
            "odds (home, draw, away)",
            f"fair P(home) - P(away) = {supremacy_target:.6f} cannot be reached with {total:.4f} total goals "
            f"and each side in [{MIN_GOAL_EXPECTATION}, {MAX_GOAL_EXPECTATION}]",
        )
    home = _bisect(gap, low, high)
    # total - home can round a last bit past a bound (found by review: away 0.04999999999999982 at the 0.05
    # bound, which the pricing model then refuses); the bounds are the valid range, so clamp to them.
    return home, clamp_goal_expectation(total - home)


def goal_expectations_from_odds(
    home: float,
    draw: float,
    away: float,
    over25: float,
    under25: float,
    *,
    rho: float = DEFAULT_RHO,
    margin_method: str = DEFAULT_MARGIN_METHOD,
) -> tuple[float, float]:
    """Home and away goal expectations that reproduce the fair over/under 2.5 and home-minus-away probabilities.

    Parameters
    ----------
    home, draw, away : float
        Decimal 1X2 prices.
    over25, under25 : float
        Decimal over/under 2.5 goals prices.
    rho : float
        Dixon–Coles rho the expectations will be priced with. The solve does not depend on it (see module
        docstring); it is checked to be valid for the solved expectations.
    margin_method : str
        Method used to remove the bookmaker margin first: ``power``, ``shin`` or ``multiplicative``.

    Returns
    -------
    tuple of float
        ``(home_goals, away_goals)``: the model with these and any valid rho prices P(over 2.5) and
        P(home) - P(away) exactly as the margin-free odds.

    Raises
    ------
    PricingInputError
        If a price is not above 1 or the odds need expectations outside the model's valid range.
    """
    result, over = _fair_targets(home, draw, away, over25, under25, margin_method)
    home_goals, away_goals = _solve_expectations(result, over)
    check_rho(rho, home_goals, away_goals)
    return home_goals, away_goals


def dixon_coles_from_odds(
    home: float,
    draw: float,
    away: float,
    over25: float,
    under25: float,
    *,
    margin_method: str = DEFAULT_MARGIN_METHOD,
) -> tuple[float, float, float]:
    """Goal expectations and rho that reproduce all three fair 1X2 probabilities and over 2.5 exactly.

    Parameters
    ----------
    home, draw, away, over25, under25 : float
        Decimal prices, as in :func:`goal_expectations_from_odds`.
    margin_method : str
        Method used to remove the margin first.

    Returns
    -------
    tuple of float
        ``(home_goals, away_goals, rho)``.

    Raises
    ------
    PricingInputError
        If the draw price needs a rho outside the Dixon–Coles valid range, or as for
        :func:`goal_expectations_from_odds`.
    """
    result, over = _fair_targets(home, draw, away, over25, under25, margin_method)
    home_goals, away_goals = _solve_expectations(result, over)
    independent = dixon_coles_matrices(np.array([home_goals]), np.array([away_goals]), np.zeros(1))[0]
    independent_draw = float(np.trace(independent))
    rho = (independent_draw - float(result[1])) / (2.0 * home_goals * away_goals * math.exp(-(home_goals + away_goals)))
    check_rho(rho, home_goals, away_goals, field="odds (draw)")
    return home_goals, away_goals, rho
