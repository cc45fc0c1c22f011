"""The Dixon–Coles score matrix, its invariants, the in-play clock and the odds inversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from lambdas.pricing import (
    PricingInputError,
    apply_margin,
    dixon_coles_from_odds,
    goal_expectations_from_odds,
    goal_expectations_from_supremacy,
    score_matrix,
)
from lambdas.pricing.model import (
    DEFAULT_EXPECTED_STOPPAGE_MINUTES,
    MATRIX_SIZE,
    cumulative_goal_rate,
    remaining_share,
    rho_bounds,
)

expectations = st.floats(min_value=0.05, max_value=6.0)


@st.composite
def fixtures(draw: st.DrawFn) -> tuple[float, float, float]:
    home = draw(expectations)
    away = draw(expectations)
    lowest, highest = rho_bounds(home, away)
    rho = draw(st.floats(min_value=max(lowest, -0.5), max_value=min(highest, 0.5)))
    return home, away, rho


def outcome_probabilities(matrix: np.ndarray) -> tuple[float, float, float]:
    return float(np.tril(matrix, -1).sum()), float(np.trace(matrix)), float(np.triu(matrix, 1).sum())


def over_two_and_a_half(matrix: np.ndarray) -> float:
    goals = np.add.outer(np.arange(MATRIX_SIZE), np.arange(MATRIX_SIZE))
    return float(matrix[goals >= 3].sum())


def poisson_with_tail(mean: float) -> np.ndarray:
    body = poisson.pmf(np.arange(MATRIX_SIZE - 1), mean)
    return np.append(body, poisson.sf(MATRIX_SIZE - 2, mean))


@settings(max_examples=200, deadline=None)
@given(fixtures())
def test_score_matrix_is_a_probability_distribution(fixture: tuple[float, float, float]) -> None:
    # Given any valid goal expectations and rho
    home, away, rho = fixture
    # When the score matrix is built
    matrix = score_matrix(home, away, rho)
    # Then every cell is a probability and they sum to one
    assert (matrix >= 0).all()
    assert matrix.sum() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(fixtures())
def test_dixon_coles_keeps_each_teams_goals_poisson(fixture: tuple[float, float, float]) -> None:
    # Given a fixture priced with a Dixon-Coles correction
    home, away, rho = fixture
    # When the matrix is summed over the other side's goals
    matrix = score_matrix(home, away, rho)
    # Then each side's goals are exactly Poisson (the last cell being "15 or more")
    np.testing.assert_allclose(matrix.sum(axis=1), poisson_with_tail(home), rtol=0, atol=1e-13)
    np.testing.assert_allclose(matrix.sum(axis=0), poisson_with_tail(away), rtol=0, atol=1e-13)


@settings(max_examples=200, deadline=None)
@given(fixtures())
def test_dixon_coles_leaves_home_minus_away_and_over_unchanged(fixture: tuple[float, float, float]) -> None:
    # Given the same expectations with and without the correction
    home, away, rho = fixture
    corrected = score_matrix(home, away, rho)
    independent = score_matrix(home, away, 0.0)
    # When the result and over 2.5 probabilities are read from both
    home_win, draw, away_win = outcome_probabilities(corrected)
    home_win_0, draw_0, away_win_0 = outcome_probabilities(independent)
    # Then P(home) - P(away) and P(over 2.5) are exactly unchanged, while each result moves by the closed form:
    # the 1-0 and 0-1 cells both gain rho*l*m*e^-(l+m), the 0-0 and 1-1 cells both lose it
    assert home_win - away_win == pytest.approx(home_win_0 - away_win_0, abs=1e-14)
    assert over_two_and_a_half(corrected) == pytest.approx(over_two_and_a_half(independent), abs=1e-14)
    shift = rho * home * away * math.exp(-(home + away))
    assert home_win - home_win_0 == pytest.approx(shift, abs=1e-14)
    assert draw - draw_0 == pytest.approx(-2 * shift, abs=1e-14)


def test_negative_rho_raises_the_draw_and_lowers_each_win() -> None:
    # Given a typical fixture
    # When rho is negative (the sign Dixon & Coles estimated)
    home_win, draw, away_win = outcome_probabilities(score_matrix(1.5, 1.2, -0.1))
    home_win_0, draw_0, away_win_0 = outcome_probabilities(score_matrix(1.5, 1.2, 0.0))
    # Then draws become likelier and each side's win less likely: P(home) alone is NOT invariant
    assert draw > draw_0
    assert home_win < home_win_0
    assert away_win < away_win_0


@pytest.mark.parametrize(
    ("home", "away", "rho", "field"),
    [
        (0.01, 1.0, 0.0, "home_goals"),
        (1.0, 7.0, 0.0, "away_goals"),
        (math.nan, 1.0, 0.0, "home_goals"),
        (2.0, 2.0, -0.6, "rho"),  # tau(0,1) = 1 + 2 * -0.6 < 0
        (2.0, 2.0, 0.3, "rho"),  # tau(0,0) = 1 - 4 * 0.3 < 0
    ],
)
def test_invalid_model_inputs_are_rejected_naming_the_field(home: float, away: float, rho: float, field: str) -> None:
    # Given inputs outside the documented ranges
    # When the matrix is requested
    with pytest.raises(PricingInputError) as caught:
        score_matrix(home, away, rho)
    # Then the error names the offending field
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_supremacy_and_total_split_into_home_and_away() -> None:
    # Given a supremacy of 0.5 goals and 2.7 total goals
    # When converted
    home, away = goal_expectations_from_supremacy(0.5, 2.7)
    # Then they add up to the total and differ by the supremacy
    assert home == pytest.approx(1.6)
    assert away == pytest.approx(1.1)


def test_supremacy_beyond_the_total_is_rejected() -> None:
    # Given a supremacy larger than the total
    # When converted
    # Then the away expectation would be negative, which is refused naming supremacy
    with pytest.raises(PricingInputError, match="^supremacy"):
        goal_expectations_from_supremacy(3.0, 2.5)


def test_goal_rate_profile_puts_45_percent_of_regulation_goals_in_the_first_half() -> None:
    # Given the rising goal-rate profile
    # When the first half's share of regulation time goals is computed
    share = cumulative_goal_rate(45.0) / cumulative_goal_rate(90.0)
    # Then it is the documented 45 %, below the 50 % of a flat rate
    assert share == pytest.approx(0.45)


def test_remaining_share_is_whole_at_kick_off_and_shrinks_through_the_match() -> None:
    # Given the in-play clock
    # When the share still to play is read through the match
    shares = [remaining_share("in_play", minute, 0.0) for minute in (0, 15, 30, 45, 60, 75, 90)]
    # Then it starts at exactly one and falls every step, faster late on because the goal rate rises
    assert shares[0] == 1.0
    assert all(later < earlier for earlier, later in zip(shares, shares[1:], strict=False))
    drops = [earlier - later for earlier, later in zip(shares, shares[1:], strict=False)]
    assert all(later > earlier for earlier, later in zip(drops, drops[1:], strict=False))
    assert remaining_share("half_time", 10.0, 0.0) == remaining_share("in_play", 45.0, 0.0)
    assert remaining_share("full_time", 90.0, 0.0) == 0.0


def test_announced_stoppage_time_changes_what_remains_at_minute_ninety() -> None:
    # Given minute 90
    # When more or less added time than expected is announced
    expected = remaining_share("in_play", 90.0, 0.0)
    long = remaining_share("in_play", 90.0, DEFAULT_EXPECTED_STOPPAGE_MINUTES + 4)
    short = remaining_share("in_play", 90.0, 1.0)
    # Then more added time leaves more of the expectation to play
    assert short < expected < long
    # And play beyond the announced time still leaves a little, so the match is not priced as over
    assert remaining_share("in_play", 99.0, 2.0) > 0


@pytest.mark.parametrize("method", ["power", "shin", "multiplicative"])
@pytest.mark.parametrize(("home", "away", "rho"), [(1.6, 1.1, -0.1), (0.7, 2.3, -0.05), (2.8, 0.4, 0.0)])
def test_odds_inversion_recovers_the_expectations_that_made_the_odds(
    method: str, home: float, away: float, rho: float
) -> None:
    # Given market odds built from a known model with a margin applied by the same method
    matrix = score_matrix(home, away, rho)
    result = np.array(outcome_probabilities(matrix))
    over = over_two_and_a_half(matrix)
    result_odds = 1 / apply_margin(result, 0.06, method)
    total_odds = 1 / apply_margin([over, 1 - over], 0.05, method)
    # When the odds are inverted (margin removed first)
    solved_home, solved_away = goal_expectations_from_odds(*result_odds, *total_odds, rho=rho, margin_method=method)
    solved_home_rho, solved_away_rho, solved_rho = dixon_coles_from_odds(
        *result_odds, *total_odds, margin_method=method
    )
    # Then the expectations (and, from the draw, rho) are recovered
    assert solved_home == pytest.approx(home, abs=1e-7)
    assert solved_away == pytest.approx(away, abs=1e-7)
    assert (solved_home_rho, solved_away_rho) == (solved_home, solved_away)
    assert solved_rho == pytest.approx(rho, abs=1e-7)


def test_odds_no_model_can_reach_are_rejected_naming_the_market() -> None:
    # Given a 1X2 far more one-sided than any valid expectations allow with this total
    # When inverted
    # Then the error names the 1X2 odds
    with pytest.raises(PricingInputError, match=r"^odds \(home, draw, away\)"):
        goal_expectations_from_odds(1.01, 40.0, 90.0, 1.9, 1.9)
    with pytest.raises(PricingInputError, match="prices must be above 1|above 1"):
        goal_expectations_from_odds(0.9, 3.0, 4.0, 1.9, 1.9)
