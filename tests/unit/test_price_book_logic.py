"""From fixture state to pricing request and status: the pricing handler's logic without AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lambdas.logic.price_book import fixture_status, pricing_request
from lambdas.models.fixture_state import FixtureState, margin_attribute, override_attribute
from lambdas.pricing.model import DEFAULT_RHO

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)


def _state(**changes: object) -> FixtureState:
    values = {
        "fixture_id": "FX-1",
        "sport": "football",
        "last_sequence": 9,
        "last_event_type": "clock",
        "home_team": "A",
        "away_team": "B",
        "home_goals_expected": 1.5,
        "away_goals_expected": 1.2,
        "match_phase": "in_play",
        "match_minute": 60,
        "home_score": 2,
        "away_score": 1,
        "home_red_cards": 0,
        "away_red_cards": 1,
    }
    values.update(changes)
    return FixtureState.model_validate(values)


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({}, "open"),
        ({"suspension_reason": "goal"}, "suspended"),
        ({"suspension_reason": "var_check"}, "suspended"),
        ({"match_phase": "half_time"}, "open"),
        ({"match_phase": "full_time", "suspension_reason": "goal"}, "closed"),
    ],
)
def test_fixture_status(changes: dict, status: str) -> None:
    assert fixture_status(_state(**changes)) == status


def test_request_carries_the_match_situation() -> None:
    # Given a suspended fixture in the second half
    request = pricing_request(_state(suspension_reason="red_card"), NOW)

    # Then the pricing request holds its inputs, score, cards, clock and suspension
    assert (request.home_goals, request.away_goals) == (1.5, 1.2)
    assert (request.home_score, request.away_score, request.home_red_cards, request.away_red_cards) == (2, 1, 0, 1)
    assert (request.phase, request.minute, request.suspended) == ("in_play", 60.0, True)


def test_a_rho_calibrated_from_odds_replaces_the_models_default() -> None:
    assert pricing_request(_state(dixon_coles_rho=0.05), NOW).rho == 0.05
    assert pricing_request(_state(), NOW).rho == DEFAULT_RHO != 0.05


def test_trader_settings_stored_as_attributes_reach_the_pricing_request() -> None:
    # Given the attributes the trader-command workflow writes on the fixture item
    state = _state(
        revision=12,
        suspended_market_types=frozenset({"correct_score"}),
        suspended_markets={"total_goals#2.5", "asian_handicap#-0.25"},
        **{
            margin_attribute("match_result"): 0.07,
            override_attribute("total_goals", 2.5, "over"): {
                "price": 1.9,
                "set_at": NOW - timedelta(minutes=1),
                "for_seconds": 360,
            },
            override_attribute("match_result", None, "home"): {
                "price": 2.2,
                "set_at": NOW - timedelta(seconds=61),
                "for_seconds": 60,
            },
        },
    )

    # When it is priced now
    request = pricing_request(state, NOW)

    # Then the margin, the suspension and the override still in force are inputs; the expired one is not
    assert request.margins == {"match_result": 0.07}
    assert request.suspended_market_types == frozenset({"correct_score"})
    assert request.suspended_markets == frozenset({("total_goals", 2.5), ("asian_handicap", -0.25)})
    assert dict(request.price_overrides) == {("total_goals", 2.5, "over"): 1.9}
    assert request.suspended is False


def test_a_trader_suspension_of_the_fixture_suspends_it() -> None:
    state = _state(trader_suspended=True)

    assert pricing_request(state, NOW).suspended is True
    assert fixture_status(state) == "suspended"
    assert fixture_status(_state(trader_suspended=True, match_phase="full_time")) == "closed"
