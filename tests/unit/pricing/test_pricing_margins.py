"""Margin methods: targets hit, inverses, the price ladder and a published Shin reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lambdas.pricing import DEFAULT_PRICE_LADDER, PricingInputError, apply_margin, remove_margin
from lambdas.pricing.margins import _power, _power_margin, ladder_array, round_to_ladder

METHODS = ["power", "shin", "multiplicative"]


@st.composite
def markets(draw: st.DrawFn) -> np.ndarray:
    weights = draw(st.lists(st.floats(0.001, 1.0), min_size=2, max_size=26))
    values = np.array(weights)
    return values / values.sum()


@settings(max_examples=150, deadline=None)
@given(markets(), st.floats(0.0, 0.3), st.sampled_from(METHODS))
def test_every_method_hits_the_target_booksum(fair: np.ndarray, overround: float, method: str) -> None:
    # Given any market and target overround
    # When the margin is applied
    offered = apply_margin(fair, overround, method)
    # Then the booksum is the target within 1e-9, and favourites stay favourites
    assert offered.sum() == pytest.approx(1 + overround, abs=1e-9)
    by_fair = np.argsort(fair)
    assert (np.diff(offered[by_fair]) >= -1e-15).all()


@settings(max_examples=100, deadline=None)
@given(markets(), st.floats(0.01, 0.3), st.sampled_from(METHODS))
def test_removing_a_margin_inverts_applying_it(fair: np.ndarray, overround: float, method: str) -> None:
    # Given prices made from fair probabilities by one method (real prices: every offered probability below one,
    # and for Shin a market it can reach, since Shin hands unreachable markets to the power method)
    offered = apply_margin(fair, overround, method)
    assume(offered.max() < 1.0)
    assume(method != "shin" or np.sqrt(fair).sum() ** 2 >= 1 + overround)
    prices = 1 / offered
    # When the margin is removed by the same method
    recovered = remove_margin(prices, method)
    # Then the fair probabilities come back
    np.testing.assert_allclose(recovered, fair, atol=1e-9)


def test_methods_differ_in_where_they_put_the_margin() -> None:
    # Given a favourite and a long shot
    fair = [0.8, 0.2]
    # When 10 % is applied by each method
    power, shin, multiplicative = (apply_margin(fair, 0.10, m) for m in METHODS)
    # Then multiplicative scales evenly while power and Shin load the long shot more (favourite-longshot bias)
    assert multiplicative / np.array(fair) == pytest.approx([1.1, 1.1])
    assert power[1] / fair[1] > power[0] / fair[0]
    assert shin[1] / fair[1] > shin[0] / fair[0]


def test_shin_removal_matches_the_published_shin_package_example() -> None:
    # Given the example odds of the `shin` package README (PyPI "shin", Maurice Berk): 2.6, 2.4, 4.3
    # When Shin's method removes the margin
    fair = remove_margin([2.6, 2.4, 4.3], "shin")
    # Then the published implied probabilities are reproduced
    published = [0.37299406033208965, 0.4047794109200184, 0.2222265287474275]
    np.testing.assert_allclose(fair, published, atol=1e-9)


def test_default_ladder_follows_betfair_increments() -> None:
    # Given the default ladder (Betfair Exchange price increments)
    ladder = DEFAULT_PRICE_LADDER
    # When its rungs are inspected
    # Then it runs 1.01..1000 with the published steps: 0.01 below 2, 0.02 to 3, ..., 10 from 100
    assert ladder[0] == 1.01 and ladder[-1] == 1000.0
    assert ladder[ladder.index(1.99) + 1] == 2.0 and ladder[ladder.index(2.0) + 1] == 2.02
    assert ladder[ladder.index(3.0) + 1] == 3.05 and ladder[ladder.index(10.0) + 1] == 10.5
    assert ladder[ladder.index(100.0) + 1] == 110.0
    assert len(ladder) == 350


def test_rounding_shortens_prices_and_pins_near_certainties_without_losing_margin() -> None:
    # Given a near-certain favourite whose margined price would be below the ladder's first rung
    offered = np.array([[0.9999, 0.051]])
    starts = np.array([0])
    columns = np.array([0, 0])
    targets = np.array([[1.05]])
    # When rounded to the ladder
    probabilities, prices = round_to_ladder(offered, starts, columns, targets, ladder_array(DEFAULT_PRICE_LADDER))
    # Then the favourite is pinned at 1.01, the long shot shortened to make up the margin, booksum >= target
    assert prices[0, 0] == 1.01
    assert probabilities.sum() >= 1.05
    assert prices[0, 1] <= 1 / 0.051


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: apply_margin([0.5, 0.6], 0.05), "fair_probabilities"),
        (lambda: apply_margin([0.5, 0.5], 0.9), "overround"),
        (lambda: apply_margin([0.5, 0.5], 0.05, "basic"), "margin_method"),
        (lambda: remove_margin([1.0, 3.0]), "prices"),
        (lambda: remove_margin([2.2, 2.2], "shin"), "prices"),
    ],
)
def test_invalid_margin_inputs_name_the_field(call, field: str) -> None:
    # Given an invalid margin input
    # When used
    with pytest.raises(PricingInputError) as caught:
        call()
    # Then the error names the field
    assert caught.value.field == field


# The adding-margin power solve (_power_margin): several markets side by side, as the book lays them out.
_SOLVER_STARTS = np.array([0, 2, 4, 7, 9])
_SOLVER_COLUMNS = np.array([0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4])


def _solver_book(second_two_way: tuple[float, float]) -> np.ndarray:
    # balanced two-way, a chosen two-way, a three-way, a tied two-way and a lopsided two-way
    return np.array([[0.5, 0.5, *second_two_way, 0.6, 0.3, 0.1, 0.5, 0.5, 0.98, 0.02]])


@pytest.mark.parametrize("second_two_way", [(0.999, 0.001), (0.3, 0.7), (1e-9, 1 - 1e-9)])
@pytest.mark.parametrize("overround", [0.0, 0.04, 0.2, 0.5])
@pytest.mark.parametrize("tolerance", [1e-9, 1e-13])
def test_power_margin_hits_every_target_from_above_and_returns_its_powered_values(
    second_two_way: tuple[float, float], overround: float, tolerance: float
) -> None:
    # Given balanced, tied, three-way and lopsided markets with one target booksum
    q = _solver_book(second_two_way)
    booksum = np.full((1, 5), 1.0 + overround)
    # When the exponents are solved
    exponents, powered = _power_margin(q, booksum, _SOLVER_STARTS, _SOLVER_COLUMNS, tolerance)
    # Then each market's booksum is at or above target and within the tolerance of it
    booksums = np.add.reduceat(powered, _SOLVER_STARTS, axis=1)
    assert (booksums >= booksum - 1e-15).all()
    assert (booksums - booksum <= tolerance).all()
    # And the powered values are q ** k with exponents in (0, 1], exactly 1 without margin
    np.testing.assert_allclose(powered, q ** exponents[:, _SOLVER_COLUMNS], rtol=1e-12)
    assert ((exponents > 0) & (exponents <= 1)).all()
    if overround == 0.0:
        assert (exponents == 1.0).all()


def test_power_margin_agrees_with_the_plain_newton_loop() -> None:
    # Given random markets and margins, several fixtures at once
    generator = np.random.default_rng(3)
    q = generator.dirichlet(np.full(11, 0.3), size=6)[:, :11]
    q = q / np.add.reduceat(q, _SOLVER_STARTS, axis=1)[:, _SOLVER_COLUMNS]
    booksum = 1.0 + generator.uniform(0.0, 0.5, size=(6, 5))
    # When both the fast solve and the one-exponent Newton loop solve them tightly
    fast, _ = _power_margin(q, booksum, _SOLVER_STARTS, _SOLVER_COLUMNS, 1e-13)
    plain = _power(q, booksum, _SOLVER_STARTS, _SOLVER_COLUMNS, 1.0, 1e-13)
    # Then they find the same exponents
    np.testing.assert_allclose(fast, plain, rtol=1e-10)


def test_power_margin_leaves_an_impossible_selection_at_zero() -> None:
    # Given a three-way market with an impossible selection
    q = np.array([[0.7, 0.3, 0.0]])
    # When a 5 % margin is applied
    _, powered = _power_margin(q, np.array([[1.05]]), np.array([0]), np.zeros(3, dtype=np.intp), 1e-13)
    # Then it stays exactly 0 and the others carry the margin
    assert powered[0, 2] == 0.0
    assert powered.sum() == pytest.approx(1.05, abs=1e-13)
