"""The single-fixture path of price_fixture: the same numbers as the batch pipeline on a batch of one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lambdas.pricing import Market, PricingInputError, PricingRequest, Selection, engine, price_fixture, price_fixtures
from lambdas.pricing.margins import _rounding_table, ladder_array, round_to_ladder
from lambdas.pricing.model import dixon_coles_matrices, dixon_coles_matrix, rho_bounds

SINGLE_REQUESTS = [
    PricingRequest(1.6, 1.1),
    PricingRequest(2, 1),  # ints are plain numbers too
    PricingRequest(0.6, 2.4, rho=-0.05, margin_method="shin"),
    PricingRequest(1.6, 1.1, phase="in_play", minute=70, home_score=1, away_score=2, away_red_cards=1),
    PricingRequest(1.6, 1.1, phase="in_play", minute=88.0, home_score=5, away_score=5),
    PricingRequest(1.6, 1.1, phase="half_time", home_score=1),
    PricingRequest(2.0, 0.9, margins={"match_result": 0.0, "total_goals": 0.12}),
    PricingRequest(2.0, 0.9, phase="in_play", minute=30.0, home_score=2, margins={"team_total": 0.3}),
    PricingRequest(1.3, 1.3, suspended=True),
    PricingRequest(
        1.3, 1.2, phase="in_play", minute=60.0, home_score=1, suspended_market_types=frozenset({"asian_handicap"})
    ),
    PricingRequest(1.3, 1.2, suspended_market_types=frozenset({"correct_score", "team_total"})),
    PricingRequest(1.5, 1.0, price_overrides={("match_result", None, "draw"): 3.0, ("total_goals", 2.5, "over"): 1.9}),
    PricingRequest(1.5, 1.0, margin_method="multiplicative", price_ladder=(1.01, 1.5, 2.0, 3.0, 5.0, 10.0)),
    PricingRequest(1, 2, phase="in_play", minute=93, stoppage_minutes=5, home_red_cards=2),
    PricingRequest(1.2, 0.8, phase="full_time", minute=90.0, home_score=3, away_score=3),
    PricingRequest(np.float64(1.4), np.float64(1.0), phase="in_play", minute=np.float64(20.0), home_score=np.int64(1)),
]


def batch_of_one(request: PricingRequest) -> tuple[Market, ...]:
    """The general pipeline on a batch of one request (what price_fixture used to run)."""
    [(_, layouts, arrays)] = engine._price_batch((request,))
    return engine._build_books(layouts, *arrays)[0]


def bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array).view(np.int64)


@pytest.mark.parametrize("request_", SINGLE_REQUESTS, ids=range(len(SINGLE_REQUESTS)))
def test_price_fixture_equals_the_batch_pipeline_on_a_batch_of_one(request_: PricingRequest) -> None:
    # Given a request (pre-match, in-play, settled markets, custom margins, suspensions, overrides, ladders)
    # When it is priced by price_fixture, by price_fixtures on a one-element list and by the general pipeline
    single = price_fixture(request_)
    listed = price_fixtures([request_])[0]
    general = batch_of_one(request_)
    # Then the books are equal field for field, fair probabilities included, and made of the frozen dataclasses
    assert single == general
    assert listed == general
    assert all(type(market) is Market for market in single)
    assert all(type(selection) is Selection for market in single for selection in market.selections)
    with pytest.raises(dataclasses.FrozenInstanceError):
        single[0].selections[0].price = 2.0  # type: ignore[misc]


def test_suspension_marks_only_open_markets_of_the_targeted_types() -> None:
    # Given an in-play request with settled markets and one suspended market type
    request = PricingRequest(
        1.4, 1.1, phase="in_play", minute=50.0, home_score=2, suspended_market_types=frozenset({"total_goals"})
    )
    # When it is priced
    book = price_fixture(request)
    # Then open total-goals markets are suspended, settled ones stay settled and other types stay as they were
    totals = [market.status for market in book if market.type == "total_goals"]
    assert "suspended" in totals and "settled" in totals and "open" not in totals
    assert {market.status for market in book if market.type == "match_result"} == {"open"}


def test_dixon_coles_matrix_is_bit_for_bit_the_batched_matrix() -> None:
    # Given expectations across the valid range (zero included, as at full time) and rho at and inside its bounds
    generator = np.random.default_rng(11)
    cases = [(0.0, 0.0, 0.0), (6.0, 6.0, 1 / 36), (0.05, 3.0, -1 / 3.0)]
    for home, away in generator.uniform(0.01, 6.0, size=(200, 2)).tolist():
        lowest, highest = rho_bounds(home, away)
        cases.append((home, away, float(generator.uniform(max(lowest, -1.0), highest))))
        cases.append((home, away, lowest))
    for home, away, rho in cases:
        # When one matrix is built by the scalar helper and by the batched function
        single = dixon_coles_matrix(home, away, rho)
        batched = dixon_coles_matrices(np.array([home]), np.array([away]), np.array([rho]))[0]
        # Then they carry exactly the same bits
        assert np.array_equal(bits(single), bits(batched)), (home, away, rho)


@pytest.mark.parametrize("request_", SINGLE_REQUESTS, ids=range(len(SINGLE_REQUESTS)))
def test_main_line_search_of_one_row_matches_the_batched_search(request_: PricingRequest) -> None:
    # Given one fixture's feature row
    prepared = engine._prepare(request_)
    matrix = dixon_coles_matrix(prepared.remaining_home, prepared.remaining_away, prepared.rho)
    features = matrix.reshape(1, -1) @ engine._FEATURE_WEIGHTS
    # When the main lines are searched on the row and by the batched search
    single = engine._main_lines_single(features)
    totals, handicaps = engine._main_line_indices(features)
    # Then both pick the same candidate lines
    assert single == (totals[0], handicaps[0])


def test_plain_state_accepts_plain_numbers_with_the_values_of_the_detailed_checks() -> None:
    # Given valid requests whose numbers are plain floats and ints
    for request in SINGLE_REQUESTS[:-1]:
        # When the fast check and the detailed checks validate them
        fast = engine._plain_state(request)
        detailed = engine._checked_state(request)
        # Then both return the same values with the same types
        assert fast == detailed
        assert [type(value) for value in fast] == [type(value) for value in detailed]


@pytest.mark.parametrize(
    "changes",
    [
        {"home_goals": np.float64(1.4)},  # another number type: left to the detailed checks
        {"home_goals": True},
        {"home_goals": float("nan")},
        {"away_goals": 7.0},
        {"rho": 2.0},
        {"rho": 10**400},
        {"phase": "extra_time"},
        {"minute": 5.0},  # pre-match with a clock
        {"home_score": 1.0},
        {"away_red_cards": 5},
        {"red_card_own_factor": 1.5},
    ],
)
def test_plain_state_declines_anything_unusual(changes: dict) -> None:
    # Given a request with one unusual or invalid number
    request = dataclasses.replace(PricingRequest(1.6, 1.1), **changes)
    # When the fast check looks at it
    # Then it declines, leaving the request to the detailed checks
    assert engine._plain_state(request) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"home_goals": float("nan")},
        {"rho": 2.0},
        {"phase": "extra_time"},
        {"minute": 5.0},
        {"home_score": 1.5, "phase": "in_play"},
        {"suspended": "yes"},
        {"margins": {"match_result": 0.9}},
        {"price_ladder": (1.0, 2.0)},
        {"margin_method": "fancy"},
    ],
)
def test_bad_single_requests_raise_the_detailed_message(changes: dict) -> None:
    # Given an invalid request
    request = dataclasses.replace(PricingRequest(1.6, 1.1), **changes)
    # When it is priced alone and as part of a batch validated one by one
    with pytest.raises(PricingInputError) as single:
        price_fixture(request)
    with pytest.raises(PricingInputError) as detailed:
        engine._batch_one_by_one([request])
    # Then the message is the one the detailed checks give
    assert str(single.value) == str(detailed.value)


def test_rounding_table_pads_the_ladder_for_one_searchsorted() -> None:
    # Given a ladder
    ladder = ladder_array((1.5, 2.0, 3.0))
    # When its rounding table is built
    same, cap, prices, probabilities = _rounding_table(ladder)
    # Then index i of searchsorted(side="right") maps to the rung at or below, the first rung below the ladder
    assert same is ladder and cap == 1.0 / 1.5
    assert prices.tolist() == [1.5, 1.5, 2.0, 3.0]
    assert probabilities.tolist() == [1.0 / 1.5, 1.0 / 1.5, 0.5, 1.0 / 3.0]
    # And the table is cached for that ladder array
    assert _rounding_table(ladder) is _rounding_table(ladder)


def test_round_to_ladder_rounds_prices_down_to_the_rung_at_or_below() -> None:
    # Given offered probabilities of one market, one of them impossible, and a ladder
    ladder = np.array([1.5, 2.0, 3.0, 10.0])
    offered = np.array([[0.6, 0.45, 0.0, 0.2]])
    starts = np.array([0])
    columns = np.zeros(4, dtype=np.intp)
    # When they are rounded to the ladder
    probabilities, prices = round_to_ladder(offered, starts, columns, np.array([[1.0]]), ladder)
    # Then each price is the rung at or below 1 / p (the top rung for p = 0) and probabilities are 1 / price
    assert prices.tolist() == [[1.5, 2.0, 10.0, 3.0]]
    assert probabilities.tolist() == [[1.0 / 1.5, 0.5, 0.1, 1.0 / 3.0]]


IN_PLAY_AT_ONE_NIL = PricingRequest(1.6, 1.1, phase="in_play", minute=55.0, home_score=1, away_score=0)


def test_decided_markets_of_a_layout_are_cached_by_their_pattern() -> None:
    # Given the layout of a book at 1-0 (total 0.5 and home over 0.5 settled) and no selection that cannot lose
    layout = engine._layout(1, 0, 2.5, 0.0)
    can_close = np.zeros((1, len(layout.names)), dtype=bool)
    # When the decided markets of one pattern are looked up twice, and those of other patterns once
    first = engine._decided(layout, False, can_close, False)
    again = engine._decided(layout, False, can_close.copy(), False)
    at_full_time = engine._decided(layout, True, can_close, False)
    can_close[0, 0] = True  # the home selection can no longer lose: match result closes
    with_closed = engine._decided(layout, False, can_close, True)
    # Then the same pattern gives the same cached entry, and each entry's statuses follow from its pattern
    assert again is first
    assert sum(layout.settled.tolist()) == 2
    assert list(first.statuses) == ["settled" if settled else "open" for settled in layout.settled.tolist()]
    assert set(at_full_time.statuses) == {"settled"} and at_full_time.selection_offered.sum() == 0
    assert with_closed.statuses[0] == "closed" and with_closed.statuses[1:] == first.statuses[1:]
    # And a priced market's target is its fair sum times the house margin, a decided market's its fair sum
    for index, status in enumerate(first.statuses):
        margin = engine.DEFAULT_MARGINS[layout.types[index]] if status == "open" else 0.0
        assert first.targets[0, index] == layout.fair_sums[index] * (1.0 + margin)
    # And the shared arrays cannot be changed by a caller
    with pytest.raises(ValueError):
        first.targets[0, 0] = 0.0


def test_a_book_with_every_market_offered_has_no_decided_mask() -> None:
    # Given a pre-match layout, where no market is settled and nothing can close
    layout = engine._layout(0, 0, 2.5, 0.0)
    # When its decided markets are looked up
    decided = engine._decided(layout, False, np.zeros((1, len(layout.names)), dtype=bool), False)
    # Then every market is open and priced (no mask for the rounding or the not-offered prices)
    assert decided.priced is None and decided.selection_offered is None
    assert set(decided.statuses) == {"open"}


def test_the_decided_cache_of_a_layout_is_bounded() -> None:
    # Given a layout and more closing patterns than a layout keeps
    layout = engine._layout(3, 3, 6.5, 0.0)
    layout.decided.clear()
    width = len(layout.names)
    # When each pattern is looked up
    for selection in range(engine._DECIDED_PER_LAYOUT + 5):
        can_close = np.zeros((1, width), dtype=bool)
        can_close[0, selection] = True
        engine._decided(layout, False, can_close, True)
    # Then the layout keeps at most the bound, the newest patterns included
    assert len(layout.decided) == engine._DECIDED_PER_LAYOUT
    newest = np.zeros((1, width), dtype=bool)
    newest[0, engine._DECIDED_PER_LAYOUT + 4] = True
    assert newest.tobytes() in layout.decided
    layout.decided.clear()  # the made-up patterns are not left for later books


@pytest.mark.parametrize(
    "request_",
    [
        IN_PLAY_AT_ONE_NIL,
        PricingRequest(1.6, 1.1, phase="in_play", minute=55.0, home_score=1, margins={"total_goals": 0.2}),
        PricingRequest(1.6, 1.1, phase="in_play", minute=80.0, home_score=2, away_score=2, margin_method="shin"),
        PricingRequest(2.6, 0.8, phase="in_play", minute=86.0, home_score=1),  # double chance shortened to target
        PricingRequest(1.6, 1.1, phase="in_play", minute=60.0, home_score=1, price_ladder=(2.5, 3.0, 5.0)),
        PricingRequest(1.6, 1.1, phase="full_time", minute=90.0, home_score=1, suspended=True),
    ],
)
def test_a_repeated_in_play_book_uses_the_cached_decided_markets_with_the_same_numbers(
    request_: PricingRequest,
) -> None:
    # Given an in-play book priced once (filling the layout's cache of decided markets)
    first = price_fixture(request_)
    # When it is priced again from the cache, and by the general pipeline
    second = price_fixture(request_)
    general = batch_of_one(request_)
    # Then all three books are equal, fair probabilities included, and only decided markets are not offered
    assert first == second == general
    for market in second:
        offered = market.status in ("open", "suspended")
        assert all((selection.price == 1.0) != offered for selection in market.selections)
