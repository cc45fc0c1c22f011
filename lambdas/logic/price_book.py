"""From a fixture's state to its published price message: the pricing Lambda's one piece of logic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdas.models.fixture_state import FixtureState
from lambdas.models.price_message import FixtureStatus, PriceMessage, SourceEvent
from lambdas.pricing import Market, PricingRequest, price_fixture
from lambdas.pricing.model import DEFAULT_RHO


def fixture_status(state: FixtureState) -> FixtureStatus:
    """Closed after full time; suspended while an incident (goal, red card, penalty, VAR) awaits the clock, or
    while a trader holds the whole fixture suspended."""
    if state.match_phase == "full_time":
        return "closed"
    if state.suspension_reason is not None or state.trader_suspended:
        return "suspended"
    return "open"


def pricing_request(state: FixtureState, at: datetime) -> PricingRequest:
    """The pricing inputs: the match situation and the trader's settings (overrides expired at ``at`` dropped)."""
    return PricingRequest(
        home_goals=state.home_goals_expected,
        away_goals=state.away_goals_expected,
        # Calibrated from odds by a trader's set_pre_match; otherwise the model's default.
        rho=DEFAULT_RHO if state.dixon_coles_rho is None else state.dixon_coles_rho,
        phase=state.match_phase,
        minute=float(state.match_minute),
        home_score=state.home_score,
        away_score=state.away_score,
        home_red_cards=state.home_red_cards,
        away_red_cards=state.away_red_cards,
        suspended=state.suspension_reason is not None or state.trader_suspended,
        suspended_market_types=state.suspended_market_types,
        suspended_markets=state.suspended_markets,
        margins=state.margins,
        price_overrides=state.overrides_in_force(at),
    )


def price_message(
    *, source: SourceEvent, state: FixtureState, generated_at: datetime, result: dict[str, Any] | None = None
) -> PriceMessage:
    """Price every market of the fixture and wrap the book in the message that is stored and published.

    Parameters
    ----------
    source
        What caused this book: the feed event just applied or the trader command, named in the message so
        subscribers can measure latency and traders can see why prices moved.
    state
        The fixture's state after that change (the workflow's conditional update returns it).
    generated_at
        When the book was priced (timezone-aware).
    result
        A finished match's result (``kind`` and ``revision``), for settlement.
    """
    markets = price_fixture(pricing_request(state, generated_at))
    # One validation of the whole message in pydantic's core: building ~130 nested models one Python
    # __init__ at a time cost twice as much as pricing the book (this runs for every feed event).
    return PriceMessage.model_validate(
        {
            "fixture_id": state.fixture_id,
            "sport": state.sport,
            "sequence": state.last_sequence,
            "revision": state.revision,
            "generated_at": generated_at,
            "status": fixture_status(state),
            "phase": state.match_phase,
            "minute": float(state.match_minute),
            "score": {"home": state.home_score, "away": state.away_score},
            "home_team": state.home_team,
            "away_team": state.away_team,
            "source_event": source,
            "markets": [_market(market) for market in markets],
            "result": result,
        }
    )


def _market(market: Market) -> dict[str, Any]:
    return {
        "type": market.type,
        "line": market.line,
        "status": market.status,
        "selections": [
            {
                "name": selection.name,
                "fair_probability": selection.fair_probability,
                "probability": selection.probability,
                "price": selection.price,
            }
            for selection in market.selections
        ],
    }
