"""Ladder rounding never leaves an offered market below its target booksum (issue 3, point 4)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.pricing import (
    DEFAULT_MARGINS,
    DEFAULT_PRICE_LADDER,
    MARGIN_METHODS,
    MARKET_TYPES,
    NOT_OFFERED_PRICE,
    Market,
    PricingRequest,
    price_fixture,
    price_fixtures,
    price_fixtures_arrays,
)
from lambdas.pricing import margins as margins_module
from lambdas.pricing.margins import ladder_array, round_to_ladder, round_to_ladder_checked
from lambdas.pricing.model import rho_bounds

PRICED = ("open", "suspended")
OTHER_FIXTURE = PricingRequest(1.6, 1.1)  # makes price_fixtures take the batch pipeline


def target(request: PricingRequest, market: Market) -> float:
    winners = 2.0 if market.type == "double_chance" else 1.0
    return winners * (1.0 + {**DEFAULT_MARGINS, **request.margins}[market.type])


def booksum(market: Market) -> float:
    return sum(1.0 / s.price for s in market.selections)


def both_paths(request: PricingRequest) -> list[tuple[Market, ...]]:
    """The book priced alone (one-fixture path) and inside a batch (batch pipeline)."""
    return [price_fixture(request), price_fixtures([request, OTHER_FIXTURE])[0]]


def plainly_rounded(request: PricingRequest) -> list[tuple[Market, ...]]:
    """:func:`both_paths` as rounded before this rule: the shortening step switched off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(margins_module, "_shorten_to_targets", lambda *args: np.zeros_like(args[5]))
        return both_paths(request)


@st.composite
def ladders(draw: st.DrawFn) -> tuple[float, ...]:
    kind = draw(st.sampled_from(["default", "every_kth_betfair_rung", "geometric"]))
    if kind == "default":
        return DEFAULT_PRICE_LADDER
    if kind == "every_kth_betfair_rung":
        step, offset = draw(st.integers(2, 40)), draw(st.integers(0, 20))
        return DEFAULT_PRICE_LADDER[offset::step]
    rungs = [draw(st.floats(1.001, 3.0))]
    for factor in draw(st.lists(st.floats(1.001, 2.0), max_size=40)):
        rungs.append(rungs[-1] * factor)
    return tuple(rungs)


@st.composite
def requests(draw: st.DrawFn) -> PricingRequest:
    home, away = draw(st.floats(0.05, 6.0)), draw(st.floats(0.05, 6.0))
    lowest, highest = rho_bounds(home, away)
    rho = lowest + draw(st.floats(0.001, 0.999)) * (highest - lowest)
    state: dict[str, object] = {}
    if draw(st.booleans()):
        state = {
            "phase": "in_play",
            "minute": draw(st.floats(0.0, 120.0)),
            "stoppage_minutes": draw(st.floats(0.0, 20.0)),
            "home_score": draw(st.integers(0, 6)),
            "away_score": draw(st.integers(0, 6)),
            "home_red_cards": draw(st.integers(0, 2)),
            "away_red_cards": draw(st.integers(0, 2)),
            "suspended": draw(st.booleans()),
        }
    return PricingRequest(
        home,
        away,
        rho=rho,
        margins=draw(st.dictionaries(st.sampled_from(MARKET_TYPES), st.floats(0.0, 0.5))),
        margin_method=draw(st.sampled_from(MARGIN_METHODS)),
        price_ladder=draw(ladders()),
        **state,  # type: ignore[arg-type]
    )


@settings(max_examples=300, deadline=None)
@given(requests())
def test_every_priced_market_meets_its_target_without_lengthening_any_price(request: PricingRequest) -> None:
    # Given any valid request: pre-match or in play, any margin method, margins and ladder
    plain_books = plainly_rounded(request)
    # When it is priced alone (one-fixture path) and inside a batch (batch pipeline)
    for book, plain in zip(both_paths(request), plain_books, strict=True):
        for market, before in zip(book, plain, strict=True):
            if market.status not in PRICED:
                continue
            # Then every priced market's booksum is at or above its target after rounding
            assert booksum(market) >= target(request, market) - 1e-12, market
            # And no price is longer than plain rounding made it
            assert all(s.price <= b.price for s, b in zip(market.selections, before.selections, strict=True))
            # And a market plain rounding already brought to target is left exactly as it was
            if booksum(before) >= target(request, before) + 1e-12:
                assert market == before


def test_a_late_lead_no_longer_offers_double_chance_below_target() -> None:
    # Given 1-0 at minute 86 with default margins and ladder: the two home-side doubles sit at the 1.01 floor and
    # plain rounding offered draw_or_away at 13.0, a double chance booksum of about 2.057 against its 2.10 target
    request = PricingRequest(2.6, 0.8, phase="in_play", minute=86.0, home_score=1)
    before = next(m for m in plainly_rounded(request)[0] if m.type == "double_chance")
    assert [s.price for s in before.selections] == [1.01, 1.01, 13.0]
    assert booksum(before) < 2.1 - 0.04
    # When it is priced
    market = next(m for m in price_fixture(request) if m.type == "double_chance")
    # Then the market stays open at or above target, the floor prices unchanged and draw_or_away shortened to the
    # longest rung that reaches the target (the only selection that can move)
    assert market.status == "open"
    assert booksum(market) >= 2.1
    prices = [s.price for s in market.selections]
    assert prices[:2] == [1.01, 1.01]
    longest_reaching = max(p for p in DEFAULT_PRICE_LADDER if 2 / 1.01 + 1 / p >= 2.1)
    assert prices[2] == longest_reaching < 13.0
    # And the batch pipeline and the arrays agree
    batched = next(m for m in price_fixtures([request, OTHER_FIXTURE])[0] if m.type == "double_chance")
    assert batched.status == "open" and [s.price for s in batched.selections] == prices
    [group] = price_fixtures_arrays([request]).groups
    column = int(group.market_starts[group.market_types.index("double_chance")])
    assert group.prices[0, column : column + 3].tolist() == prices


def test_rounding_shortens_the_cheapest_rung_moves_first_and_breaks_ties_leftmost() -> None:
    # Given a market plain rounding leaves at 1.5 / 10 / 20 (booksum 0.8167) on a coarse ladder
    ladder = ladder_array((1.5, 2.0, 4.0, 10.0, 20.0))
    offered = np.array([[0.66, 0.09, 0.04]])
    starts, columns = np.array([0]), np.array([0, 0, 0])
    # When the target is 0.85: moving 20 -> 10 adds 0.05, moving 10 -> 4 adds 0.15
    _, prices = round_to_ladder(offered, starts, columns, np.array([[0.85]]), ladder)
    # Then only the cheaper move is taken
    assert prices.tolist() == [[1.5, 10.0, 10.0]]
    # When the target is 0.9: after that move both long shots cost 0.15 to move again
    probabilities, prices = round_to_ladder(offered, starts, columns, np.array([[0.9]]), ladder)
    # Then the tie goes to the leftmost selection, and the booksum is at or above target
    assert prices.tolist() == [[1.5, 4.0, 10.0]]
    assert probabilities.sum() >= 0.9


def test_a_market_the_ladder_cannot_bring_to_target_is_flagged_at_the_first_rung() -> None:
    # Given a three-way market on a ladder starting at 1.5: at most 3 / 1.5 = 2.0 of booksum, a target of 2.5
    ladder = ladder_array((1.5, 2.0, 4.0))
    offered = np.array([[0.9, 0.9, 0.7, 0.5, 0.55]])
    starts, columns = np.array([0, 3]), np.array([0, 0, 0, 1, 1])
    # When rounded with a second, reachable market beside it
    probabilities, prices, unreachable = round_to_ladder_checked(
        offered, starts, columns, np.array([[2.5, 1.05]]), ladder
    )
    # Then only the first market is flagged, at the first rung; the second one meets its target
    assert unreachable.tolist() == [[True, False]]
    assert prices[0, :3].tolist() == [1.5, 1.5, 1.5]
    assert probabilities[0, 3:].sum() >= 1.05


def test_a_market_no_ladder_price_can_bring_to_target_is_not_offered() -> None:
    # Given a 50 % double chance margin: a target booksum of 3.0, above the 3 / 1.01 = 2.97 of three 1.01 prices
    request = PricingRequest(
        1.6,
        1.1,
        margins={"double_chance": 0.5},
        suspended=True,
        price_overrides={("double_chance", None, "home_or_draw"): 1.2},
    )
    # When it is priced, alone and in a batch (suspended, with a trader override on that market)
    for book in both_paths(request):
        market = next(m for m in book if m.type == "double_chance")
        # Then the market is closed with the not-offered price, keeping its fair probabilities; the override,
        # like any override of a market not offered, is ignored, and the suspension leaves it closed
        assert market.status == "closed"
        assert all(s.price == s.probability == NOT_OFFERED_PRICE for s in market.selections)
        assert sum(s.fair_probability for s in market.selections) == pytest.approx(2.0)
        # And every other market is still priced (suspended) at or above its target
        for other in book:
            if other.type != "double_chance":
                assert other.status == "suspended"
                assert booksum(other) >= target(request, other) - 1e-12


def test_a_ladder_too_short_for_any_target_closes_every_market() -> None:
    # Given a ladder whose only rung is 2.5: two-way markets reach at most 0.8 of booksum
    request = PricingRequest(1.6, 1.1, price_ladder=(2.5,))
    # When it is priced
    book = price_fixture(request)
    # Then no market is offered below target: the markets of two or three selections are closed, while correct
    # score (26 selections at 2.5 = 10.4) is offered at or above its 1.2 target
    for market in book:
        if len(market.selections) * 0.4 < target(request, market):
            assert market.status == "closed" and all(s.price == NOT_OFFERED_PRICE for s in market.selections)
        else:
            assert market.status == "open" and booksum(market) >= target(request, market)


def test_the_rest_of_an_overridden_market_is_priced_around_the_override() -> None:
    # Given an override that lengthens the home price of the match result far beyond the model's (about 2.3)
    request = PricingRequest(1.6, 1.1, price_overrides={("match_result", None, "home"): 50.0})
    default = next(m for m in price_fixture(PricingRequest(1.6, 1.1)) if m.type == "match_result")
    # When it is priced, alone and in a batch
    for book in both_paths(request):
        market = next(m for m in book if m.type == "match_result")
        home, draw, away = market.selections
        # Then the override is offered as set, and draw and away shorten to make up the book: it still meets its
        # target (no punter can back all three for a sure profit), on the ladder, in the model's order
        assert market.status == "open"
        assert home.price == 50.0
        assert booksum(market) >= target(request, market) - 1e-12
        assert draw.price < default.selections[1].price and away.price < default.selections[2].price
        assert draw.price < away.price
        assert {draw.price, away.price} <= set(request.price_ladder)

        # And no other market's prices move
        def others(markets: tuple[Market, ...]) -> list[tuple]:
            return [
                (m.type, m.line, m.status, [s.price for s in m.selections]) for m in markets if m.type != "match_result"
            ]

        assert others(book) == others(price_fixture(PricingRequest(1.6, 1.1)))


def test_a_short_override_pushes_the_rest_of_its_market_long() -> None:
    # Given an override at the ladder's first rung: it alone is nearly the whole 1.05 target
    request = PricingRequest(1.6, 1.1, price_overrides={("match_result", None, "home"): 1.01})
    for book in both_paths(request):
        market = next(m for m in book if m.type == "match_result")
        # Then the rest lengthen so the book still meets its target, and the market stays open
        assert market.status == "open"
        assert market.selections[0].price == 1.01
        assert min(s.price for s in market.selections[1:]) > 20.0
        assert booksum(market) >= target(request, market) - 1e-12


@pytest.mark.parametrize(
    "overrides",
    [
        # the other two selections at 1.01 still leave 1.98 of double chance's fair sum of 2
        {("double_chance", None, "home_or_draw"): 1000.0},
        # every selection overridden, summing to 0.95
        {("match_result", None, "home"): 2.0, ("match_result", None, "draw"): 4.0, ("match_result", None, "away"): 5.0},
    ],
    ids=["rest-cannot-make-up", "all-overridden"],
)
def test_an_override_that_leaves_a_book_below_its_fair_sum_suspends_the_market(
    overrides: dict[tuple[str, float | None, str], float],
) -> None:
    # Given overrides no pricing of the rest can bring back to 100 %
    request = PricingRequest(1.6, 1.1, price_overrides=overrides)
    (market_type,) = {key[0] for key in overrides}
    for book in both_paths(request):
        market = next(m for m in book if m.type == market_type)
        # Then the market is offered suspended, the overrides shown as set, rather than open with a sure bet in it
        assert booksum(market) < sum(s.fair_probability for s in market.selections)
        assert market.status == "suspended"
        assert {
            (market_type, None, s.name): s.price for s in market.selections if (market_type, None, s.name) in overrides
        } == overrides
        # And the other markets are open
        assert all(m.status == "open" for m in book if m.type != market_type)


def test_the_pinned_spread_scales_each_market_by_its_own_shortfall() -> None:
    # Given many random markets on a coarse ladder: some with pinned selections (above the first rung's
    # probability), some without, some with nothing left free to spread over
    generator = np.random.default_rng(5)
    ladder = ladder_array((1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 50.0))
    cap = 1.0 / 1.25
    starts = np.arange(0, 300, 3)
    columns = np.repeat(np.arange(100), 3)
    offered = generator.uniform(0.0, 1.0, size=(4, 300))
    offered[0, :6] = [0.9, 0.95, 0.85, 0.0, 0.0, 0.0]
    targets = generator.uniform(1.0, 2.5, size=(4, 100))
    # When they are rounded to the ladder
    probabilities, prices, _ = round_to_ladder_checked(offered, starts, columns, targets, ladder)
    # Then the spread is the documented one: pinned selections at the cap, the rest scaled by
    # max((target - pinned) / free, 1) of their own market (1 with nothing free), before rounding down
    pinned = offered > cap
    pinned_sum = np.add.reduceat(np.where(pinned, cap, 0.0), starts, axis=1)
    free_sum = np.add.reduceat(np.where(pinned, 0.0, offered), starts, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(free_sum > 0, np.maximum((targets - pinned_sum) / free_sum, 1.0), 1.0)
        spread = np.minimum(np.where(pinned, cap, offered * scale[:, columns]), cap)
        expected_probabilities, expected_prices = round_to_ladder(spread, starts, columns, targets, ladder)
    assert pinned.any() and (free_sum == 0).any()
    assert np.array_equal(probabilities, expected_probabilities)
    assert np.array_equal(prices, expected_prices)
