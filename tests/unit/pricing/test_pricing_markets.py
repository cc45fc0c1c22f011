"""Every market of the book against closed forms, consistency, in-play behaviour and trading state."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import poisson, skellam

from lambdas.pricing import (
    NOT_OFFERED_PRICE,
    Market,
    PricingInputError,
    PricingRequest,
    price_fixture,
    price_fixtures,
)


def market(book: tuple[Market, ...], market_type: str, line: float | None = None, side: str = "") -> Market:
    matches = [
        m
        for m in book
        if m.type == market_type and m.line == line and (not side or m.selections[0].name.startswith(side))
    ]
    assert len(matches) == 1, (market_type, line, side)
    return matches[0]


def fair(book: tuple[Market, ...], market_type: str, line: float | None, name: str) -> float:
    side = name.split("_")[0] if market_type == "team_total" else ""
    selections = market(book, market_type, line, side).selections
    return next(s.fair_probability for s in selections if s.name == name)


INDEPENDENT = PricingRequest(home_goals=1.7, away_goals=1.2, rho=0.0)


def test_result_and_half_handicaps_match_skellam() -> None:
    # Given independent Poisson goals (rho = 0), so the goal difference is Skellam
    book = price_fixture(INDEPENDENT)
    difference = skellam(1.7, 1.2)
    # When the result and half-line handicaps are read
    # Then they equal the Skellam closed forms
    assert fair(book, "match_result", None, "home") == pytest.approx(difference.sf(0), abs=1e-12)
    assert fair(book, "match_result", None, "draw") == pytest.approx(difference.pmf(0), abs=1e-12)
    assert fair(book, "match_result", None, "away") == pytest.approx(difference.cdf(-1), abs=1e-12)
    for handicap in market_lines(book, "asian_handicap"):
        if handicap % 1 == 0.5:
            # home covers line L when difference > -L
            expected = difference.sf(math.floor(-handicap))
            assert fair(book, "asian_handicap", handicap, "home") == pytest.approx(expected, abs=1e-12)


def test_whole_line_handicap_and_draw_no_bet_refund_the_push() -> None:
    # Given Skellam goal differences
    book = price_fixture(INDEPENDENT)
    difference = skellam(1.7, 1.2)
    # When the whole-line handicaps (and draw no bet, the 0 line) are read
    # Then the fair probability is P(win) / (P(win) + P(lose)): a push returns the stake
    win, lose = difference.sf(0), difference.cdf(-1)
    assert fair(book, "draw_no_bet", None, "home") == pytest.approx(win / (win + lose), abs=1e-12)
    for handicap in market_lines(book, "asian_handicap"):
        if handicap % 1 == 0:
            win, lose = difference.sf(-handicap), difference.cdf(-handicap - 1)
            assert fair(book, "asian_handicap", handicap, "home") == pytest.approx(win / (win + lose), abs=1e-12)


def test_totals_team_totals_and_btts_match_poisson() -> None:
    # Given independent Poisson goals
    book = price_fixture(INDEPENDENT)
    # When the half-line totals, team totals and both teams to score are read
    # Then totals are Poisson(l + m), team totals Poisson(l) and Poisson(m), BTTS (1 - e^-l)(1 - e^-m)
    for line in market_lines(book, "total_goals"):
        if line % 1 == 0.5:
            expected = poisson.sf(math.floor(line), 2.9)
            assert fair(book, "total_goals", line, "over") == pytest.approx(expected, abs=1e-12)
    for line in (0.5, 1.5, 2.5, 3.5):
        assert fair(book, "team_total", line, "home_over") == pytest.approx(poisson.sf(line, 1.7), abs=1e-12)
        assert fair(book, "team_total", line, "away_over") == pytest.approx(poisson.sf(line, 1.2), abs=1e-12)
    expected_btts = (1 - math.exp(-1.7)) * (1 - math.exp(-1.2))
    assert fair(book, "both_teams_to_score", None, "yes") == pytest.approx(expected_btts, abs=1e-12)


def test_quarter_lines_average_their_neighbours_stakes() -> None:
    # Given a book with quarter total-goals lines around the main line
    book = price_fixture(INDEPENDENT)
    total = poisson(2.9)
    quarter_lines = [line for line in market_lines(book, "total_goals") if (line * 4) % 2 == 1]
    assert quarter_lines
    for line in quarter_lines:
        # When the quarter line's fair price is used for the two half stakes on its neighbouring lines
        price = 1 / fair(book, "total_goals", line, "over")
        expected_returns = []
        for neighbour in (line - 0.25, line + 0.25):
            win = total.sf(math.floor(neighbour))
            lose = total.cdf(math.ceil(neighbour) - 1)
            expected_returns.append(win * (price - 1) - lose)
        # Then the average of the neighbours' expected returns is zero: the quarter line is their average
        assert sum(expected_returns) / 2 == pytest.approx(0.0, abs=1e-12)


def market_lines(book: tuple[Market, ...], market_type: str) -> list[float]:
    return sorted({m.line for m in book if m.type == market_type})


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.2, 4.0),
    st.floats(0.2, 4.0),
    st.floats(-0.15, 0.05),
    st.sampled_from(["pre_match", "in_play"]),
    st.floats(0, 95),
    st.integers(0, 4),
    st.integers(0, 4),
)
def test_every_markets_fair_probabilities_sum_to_its_number_of_winners(
    home: float, away: float, rho: float, phase: str, minute: float, home_score: int, away_score: int
) -> None:
    # Given any fixture state
    if phase == "pre_match":
        minute, home_score, away_score = 0.0, 0, 0
    request = PricingRequest(
        home, away, rho=rho, phase=phase, minute=minute, home_score=home_score, away_score=away_score
    )
    # When the book is priced
    book = price_fixture(request)
    # Then each market's fair probabilities sum to one (two for double chance, where two selections win)
    for item in book:
        winners = 2.0 if item.type == "double_chance" else 1.0
        assert sum(s.fair_probability for s in item.selections) == pytest.approx(winners, abs=1e-12), item


def test_in_play_at_kick_off_equals_pre_match_exactly() -> None:
    # Given a pre-match request and the same fixture in play at minute 0, 0-0, no cards
    pre_match = PricingRequest(1.45, 1.05, rho=-0.08, margins={"correct_score": 0.25}, margin_method="shin")
    kick_off = dataclasses.replace(pre_match, phase="in_play", minute=0.0)
    # When both are priced
    # Then the books are identical, field for field
    assert price_fixture(kick_off) == price_fixture(pre_match)


def in_play(minute: float, home_score: int = 0, away_score: int = 0, **changes: object) -> tuple[Market, ...]:
    request = PricingRequest(1.5, 1.2, phase="in_play", minute=minute, home_score=home_score, away_score=away_score)
    return price_fixture(dataclasses.replace(request, **changes))


def test_a_home_goal_moves_every_market_towards_the_home_side() -> None:
    # Given minute 30 at 0-0
    before = in_play(30)
    # When the home side scores
    after = in_play(30, home_score=1)
    # Then home results and handicaps shorten, away ones drift, and final-score overs rise
    assert fair(after, "match_result", None, "home") > fair(before, "match_result", None, "home")
    assert fair(after, "match_result", None, "away") < fair(before, "match_result", None, "away")
    assert fair(after, "draw_no_bet", None, "home") > fair(before, "draw_no_bet", None, "home")
    assert fair(after, "total_goals", 3.5, "over") > fair(before, "total_goals", 3.5, "over")
    assert fair(after, "team_total", 1.5, "home_over") > fair(before, "team_total", 1.5, "home_over")
    assert fair(after, "team_total", 1.5, "away_over") == pytest.approx(fair(before, "team_total", 1.5, "away_over"))
    common = set(market_lines(before, "asian_handicap")) & set(market_lines(after, "asian_handicap"))
    for line in common:
        assert fair(after, "asian_handicap", line, "home") > fair(before, "asian_handicap", line, "home")


def test_time_passing_favours_the_current_score() -> None:
    # Given 0-0 and 1-0 at a range of minutes
    minutes = (0, 20, 45, 70, 85)
    goalless = [in_play(m) for m in minutes]
    leading = [in_play(m, home_score=1) for m in minutes]
    # When the clock runs
    # Then at 0-0 the draw and unders shorten, overs drift; at 1-0 the home win shortens
    draws = [fair(b, "match_result", None, "draw") for b in goalless]
    overs = [fair(b, "total_goals", 2.5, "over") for b in goalless]
    home_wins = [fair(b, "match_result", None, "home") for b in leading]
    assert draws == sorted(draws) and len(set(draws)) == len(draws)
    assert overs == sorted(overs, reverse=True) and len(set(overs)) == len(overs)
    assert home_wins == sorted(home_wins) and len(set(home_wins)) == len(home_wins)


def test_a_red_card_hurts_its_team_and_factors_are_configurable() -> None:
    # Given minute 20 at 0-0
    base = in_play(20)
    # When the home side has a player sent off
    carded = in_play(20, home_red_cards=1)
    neutral = in_play(20, home_red_cards=1, red_card_own_factor=1.0, red_card_opponent_factor=1.0)
    # Then the home side's chances fall and the away side's rise; with factors of one nothing changes
    assert fair(carded, "match_result", None, "home") < fair(base, "match_result", None, "home")
    assert fair(carded, "match_result", None, "away") > fair(base, "match_result", None, "away")
    assert neutral == base


def test_decided_lines_are_settled_or_closed_and_not_priced() -> None:
    # Given 2-1 at minute 60
    book = in_play(60, home_score=2, away_score=1)
    # When the book is priced
    statuses = {(m.type, m.line, m.selections[0].name): m.status for m in book}
    # Then lines already over are settled, lines whose over can no longer lose are closed, the rest open
    assert statuses[("total_goals", 2.5, "over")] == "settled"
    assert statuses[("total_goals", 3.5, "over")] == "open"
    assert statuses[("both_teams_to_score", None, "yes")] == "settled"
    assert statuses[("team_total", 1.5, "home_over")] == "settled"
    assert statuses[("team_total", 1.5, "away_over")] == "open"
    whole_three = [m for m in book if m.type == "total_goals" and m.line == 3.0]
    assert all(m.status == "closed" for m in whole_three)
    # And settled/closed selections carry the fixed not-offered price, the winner a fair probability of one
    for item in book:
        if item.status in ("settled", "closed"):
            assert all(s.price == NOT_OFFERED_PRICE == s.probability for s in item.selections)
    assert fair(book, "total_goals", 2.5, "over") == 1.0


def test_full_time_settles_everything_on_the_final_score() -> None:
    # Given the final whistle at 1-1
    request = PricingRequest(1.5, 1.2, phase="full_time", minute=96, home_score=1, away_score=1)
    # When priced
    book = price_fixture(request)
    # Then every market is settled on the final score
    assert {m.status for m in book} == {"settled"}
    assert fair(book, "match_result", None, "draw") == 1.0
    assert fair(book, "correct_score", None, "1-1") == 1.0
    assert fair(book, "both_teams_to_score", None, "yes") == 1.0


def test_suspension_by_event_and_by_trader() -> None:
    # Given a fixture at 1-0 in play
    # When the whole fixture is suspended (goal, card, penalty, VAR) or a trader suspends one market type
    everything = in_play(50, home_score=1, suspended=True)
    one_type = in_play(50, home_score=1, suspended_market_types=frozenset({"correct_score"}))
    reopened = in_play(51, home_score=1)
    # Then open markets show "suspended" (settled ones stay settled), only that type for a trader command,
    # and the next clock tick without the flag reopens them
    assert {m.status for m in everything} == {"suspended", "settled"}
    assert {m.status for m in one_type if m.type == "correct_score"} == {"suspended"}
    assert "suspended" not in {m.status for m in one_type if m.type != "correct_score"}
    assert "suspended" not in {m.status for m in reopened}


def test_a_trader_suspends_one_line_of_a_market_type() -> None:
    # Given the 2.5 goals line and the -0.25 handicap suspended, and a total line the book does not offer
    request = PricingRequest(
        1.6, 1.1, suspended_markets=frozenset({("total_goals", 2.5), ("asian_handicap", -0.25), ("total_goals", 9.5)})
    )
    # When priced, alone and in a batch with another fixture
    for book in (price_fixture(request), price_fixtures([request, PricingRequest(1.2, 1.0)])[0]):
        # Then exactly those two markets are suspended: the other lines of their types still trade, prices unchanged
        assert {(m.type, m.line) for m in book if m.status == "suspended"} == {
            ("total_goals", 2.5),
            ("asian_handicap", -0.25),
        }
        assert [s.price for m in book for s in m.selections] == [
            s.price for m in price_fixture(PricingRequest(1.6, 1.1)) for s in m.selections
        ]


def test_trader_margin_and_price_override() -> None:
    # Given a trader widening the match result margin and overriding one price
    request = PricingRequest(
        1.6, 1.1, margins={"match_result": 0.10}, price_overrides={("match_result", None, "draw"): 3.0}
    )
    # When priced
    book = price_fixture(request)
    default = price_fixture(PricingRequest(1.6, 1.1))
    result = market(book, "match_result")
    # Then the override is published as set, its fair probability untouched
    draw = next(s for s in result.selections if s.name == "draw")
    assert (draw.price, draw.probability) == (3.0, 1 / 3.0)
    assert draw.fair_probability == fair(default, "match_result", None, "draw")
    # And home and away make up the rest of the wider 110 % book, neither longer than at the default margin
    assert sum(s.probability for s in result.selections) >= 1.10 - 1e-12
    for name in ("home", "away"):
        offered = next(s for s in result.selections if s.name == name)
        assert offered.price <= next(s for s in market(default, "match_result").selections if s.name == name).price


@pytest.mark.parametrize("method", ["power", "shin", "multiplicative"])
def test_published_books_meet_each_markets_target_after_ladder_rounding(method: str) -> None:
    # Given pre-match and late in-play fixtures
    requests = [
        PricingRequest(1.6, 1.1, margin_method=method),
        PricingRequest(2.9, 0.3, margin_method=method),
        PricingRequest(1.6, 1.1, margin_method=method, phase="in_play", minute=88, home_score=2),
    ]
    from lambdas.pricing import DEFAULT_MARGINS, DEFAULT_PRICE_LADDER

    ladder = set(DEFAULT_PRICE_LADDER)
    for book in price_fixtures(requests):
        for item in book:
            if item.status != "open":
                continue
            # When the offered probabilities are added up
            winners = 2.0 if item.type == "double_chance" else 1.0
            booksum = sum(s.probability for s in item.selections)
            # Then the booksum is never below target, prices sit on the ladder, probability = 1 / price
            assert booksum >= winners * (1 + DEFAULT_MARGINS[item.type]) - 1e-12, item
            assert all(s.price in ladder and s.probability == 1 / s.price for s in item.selections)


def test_batch_pricing_matches_single_fixture_pricing() -> None:
    # Given fixtures of different shapes priced one by one
    requests = [
        PricingRequest(1.6, 1.1),
        PricingRequest(0.6, 2.4, rho=-0.05, margin_method="shin"),
        PricingRequest(1.6, 1.1, phase="in_play", minute=70, home_score=1, away_score=2, away_red_cards=1),
        PricingRequest(1.6, 1.1, phase="half_time", home_score=1),
    ]
    singles = [price_fixture(r) for r in requests]
    # When they are priced as one batch
    batch = price_fixtures(requests)
    # Then each book is the same (up to matrix-product rounding)
    for single, batched in zip(singles, batch, strict=True):
        assert [(m.type, m.line, m.status) for m in single] == [(m.type, m.line, m.status) for m in batched]
        for a, b in zip(single, batched, strict=True):
            for x, y in zip(a.selections, b.selections, strict=True):
                assert x.fair_probability == pytest.approx(y.fair_probability, abs=1e-12)


def test_book_serialises_to_small_valid_json() -> None:
    # Given a busy in-play book
    book = in_play(80, home_score=3, away_score=3)
    # When serialised without NaN or Infinity
    text = json.dumps([dataclasses.asdict(m) for m in book], allow_nan=False)
    # Then it fits well under 100 KB
    assert len(text) < 50_000


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phase": "extra_time"}, "phase"),
        ({"home_score": 1}, "home_score"),  # a score before kick-off
        ({"phase": "in_play", "minute": -1.0}, "minute"),
        ({"phase": "in_play", "home_red_cards": 5}, "home_red_cards"),
        ({"phase": "in_play", "away_score": 1.5}, "away_score"),
        ({"margins": {"match_result": -0.01}}, "margins[match_result]"),
        ({"margins": {"corners": 0.05}}, "margins"),
        ({"margin_method": "additive"}, "margin_method"),
        ({"price_ladder": (1.0, 2.0)}, "price_ladder"),
        ({"suspended_market_types": frozenset({"corners"})}, "suspended_market_types"),
        ({"suspended_markets": frozenset({("corners", 9.5)})}, "suspended_markets"),
        ({"suspended_markets": frozenset({("total_goals", math.nan)})}, "suspended_markets"),
        ({"price_overrides": {("match_result", None, "home"): 0.5}}, "price_overrides[('match_result', None, 'home')]"),
        ({"red_card_own_factor": 1.5}, "red_card_own_factor"),
    ],
)
def test_invalid_requests_name_the_field(changes: dict, field: str) -> None:
    # Given a request with one bad field
    request = dataclasses.replace(PricingRequest(1.5, 1.2), **changes)
    # When priced
    with pytest.raises(PricingInputError) as caught:
        price_fixture(request)
    # Then the error names that field
    assert caught.value.field == field


def test_btts_closed_form_shifts_by_the_dixon_coles_cell_change() -> None:
    # Given a fixture with a negative rho
    home, away, rho = 1.4, 1.0, -0.12
    book = price_fixture(PricingRequest(home, away, rho=rho))
    # When both teams to score is read
    # Then it is the independent closed form minus delta = rho*l*m*e^-(l+m) (the no-BTTS cells 0-0, 0-1, 1-0 gain delta)
    delta = rho * home * away * math.exp(-(home + away))
    expected = (1 - math.exp(-home)) * (1 - math.exp(-away)) - delta
    assert fair(book, "both_teams_to_score", None, "yes") == pytest.approx(expected, abs=1e-12)
