"""Batched pricing: the array-level validation, the vectorised clock and the fast output objects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lambdas.pricing import (
    DEFAULT_MARGINS,
    Market,
    PricingInputError,
    PricingRequest,
    Selection,
    price_fixture,
    price_fixtures,
)
from lambdas.pricing.margins import PRICING_BOOKSUM_TOLERANCE, offered_probabilities
from lambdas.pricing.model import PHASES, remaining_share, remaining_shares


def mixed_requests() -> list[PricingRequest]:
    """More than a handful of requests, so price_fixtures takes its array-validation path."""
    return [
        PricingRequest(1.6, 1.1),
        PricingRequest(0.6, 2.4, rho=-0.05, margin_method="shin"),
        PricingRequest(1.6, 1.1, phase="in_play", minute=70, home_score=1, away_score=2, away_red_cards=1),
        PricingRequest(1.6, 1.1, phase="half_time", home_score=1),
        PricingRequest(2.0, 0.9, margins={"match_result": 0.0, "total_goals": 0.12}),
        PricingRequest(1.3, 1.3, suspended=True),
        PricingRequest(1.3, 1.2, suspended_market_types=frozenset({"correct_score"})),
        PricingRequest(1.5, 1.0, price_overrides={("match_result", None, "draw"): 3.0}),
        PricingRequest(1.5, 1.0, margin_method="multiplicative", price_ladder=(1.01, 1.5, 2.0, 3.0, 5.0, 10.0)),
        PricingRequest(1, 2, phase="in_play", minute=93, stoppage_minutes=5, home_red_cards=2),
        PricingRequest(1.2, 0.8, phase="full_time", minute=90.0, home_score=3, away_score=3),
    ]


def test_a_large_mixed_batch_prices_every_fixture_as_if_alone() -> None:
    # Given a batch large enough for the array validation, mixing phases, methods and trader settings
    requests = mixed_requests()
    # When the batch is priced together and each request alone
    batch = price_fixtures(requests)
    singles = [price_fixture(request) for request in requests]
    # Then every market, status and price is the same, and the fair probabilities agree to rounding
    for single, batched in zip(singles, batch, strict=True):
        assert [(m.type, m.line, m.status) for m in single] == [(m.type, m.line, m.status) for m in batched]
        for a, b in zip(single, batched, strict=True):
            assert [(s.name, s.price, s.probability) for s in a.selections] == [
                (s.name, s.price, s.probability) for s in b.selections
            ]
            for x, y in zip(a.selections, b.selections, strict=True):
                assert x.fair_probability == pytest.approx(y.fair_probability, abs=1e-12)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"home_goals": float("nan")}, "home_goals"),
        ({"phase": "in_play", "home_score": 1.0}, "home_score"),
        ({"rho": 0.9}, "rho"),
        ({"minute": 10.0}, "minute"),  # pre-match with a clock
        ({"suspended": 1}, "suspended"),
        ({"margins": {"match_result": 0.9}}, "margins[match_result]"),
        ({"margin_method": "additive"}, "margin_method"),
    ],
)
def test_a_bad_request_inside_a_large_batch_is_reported_by_field(changes: dict, field: str) -> None:
    # Given a large valid batch with one bad request in the middle
    requests = mixed_requests()
    requests[5] = dataclasses.replace(requests[5], **changes)
    # When the batch is priced
    with pytest.raises(PricingInputError) as caught:
        price_fixtures(requests)
    # Then the error names the bad field, as pricing that request alone does
    assert caught.value.field == field


def test_numpy_numbers_in_a_large_batch_are_accepted_like_python_numbers() -> None:
    # Given requests whose numbers are numpy scalars (the array validation only vouches for int and float)
    plain = [PricingRequest(1.4 + k / 10, 1.1, phase="in_play", minute=30.0, home_score=1) for k in range(10)]
    numpy_typed = [dataclasses.replace(r, home_goals=np.float64(r.home_goals), home_score=np.int64(1)) for r in plain]
    # When both are priced as batches
    # Then the books are identical
    assert price_fixtures(numpy_typed) == price_fixtures(plain)


def test_vectorised_remaining_share_matches_the_scalar_clock_bit_for_bit() -> None:
    # Given every phase over a grid of minutes and announced stoppage times
    grid = [(p, m, s) for p in PHASES for m in np.linspace(0, 120, 97) for s in (0.0, 2.0, 4.0, 9.5, 20.0)]
    phases = np.array([PHASES.index(p) for p, _, _ in grid])
    minutes = np.array([m for _, m, _ in grid])
    stoppage = np.array([s for _, _, s in grid])
    # When the shares are computed for all at once
    shares = remaining_shares(phases, minutes, stoppage)
    # Then each equals the scalar function exactly
    assert shares.tolist() == [remaining_share(p, float(m), s) for p, m, s in grid]


def test_priced_objects_are_genuine_frozen_selections_and_markets() -> None:
    # Given a priced book
    book = price_fixture(PricingRequest(1.6, 1.1))
    market = book[0]
    selection = market.selections[0]
    # When its objects are inspected
    # Then they are exactly the public types, equal to constructor-built ones and immutable
    assert type(market) is Market and type(selection) is Selection
    rebuilt = Selection(selection.name, selection.fair_probability, selection.probability, selection.price)
    assert rebuilt == selection and hash(rebuilt) == hash(selection)
    assert Market(market.type, market.line, market.status, market.selections) == market
    with pytest.raises(dataclasses.FrozenInstanceError):
        selection.price = 2.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        market.status = "open"  # type: ignore[misc]


def test_book_power_margins_never_fall_short_of_the_target() -> None:
    # Given fair two-way and many-way markets, from balanced to lopsided
    fair = np.array([[0.5, 0.5, 0.999, 0.001, 0.7, 0.2, 0.09, 0.01]])
    starts = np.array([0, 2, 4])
    columns = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    overrounds = np.array([[0.05, 0.05, 0.20]])
    # When the power method solves them at the book's tolerance
    offered = offered_probabilities(fair, starts, columns, np.ones(3), overrounds, "power", PRICING_BOOKSUM_TOLERANCE)
    # Then every booksum is at or above its target and within the tolerance of it
    booksums = np.add.reduceat(offered, starts, axis=1)
    targets = 1.0 + overrounds
    assert (booksums >= targets - 1e-15).all()
    assert (booksums - targets <= PRICING_BOOKSUM_TOLERANCE).all()


def test_default_margins_cover_every_market_type_in_a_batch() -> None:
    # Given a large pre-match batch
    books = price_fixtures([PricingRequest(1.0 + k / 10, 1.2) for k in range(12)])
    # When the open markets' booksums are added up
    # Then each is at least its type's default target
    for book in books:
        for market in book:
            winners = 2.0 if market.type == "double_chance" else 1.0
            booksum = sum(s.probability for s in market.selections)
            assert booksum >= winners * (1 + DEFAULT_MARGINS[market.type]) - 1e-12
