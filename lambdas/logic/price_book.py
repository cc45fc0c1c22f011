"""From a fixture's state to its published price message: the pricing Lambda's one piece of logic."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lambdas.models.feed_events import FeedEvent
from lambdas.models.fixture_state import FixtureState
from lambdas.models.price_message import FixtureStatus, PriceMessage
from lambdas.pricing import Market, PricingRequest, price_fixture


def fixture_status(state: FixtureState) -> FixtureStatus:
    """Closed after full time; suspended while an incident (goal, red card, penalty, VAR) awaits the clock."""
    if state.match_phase == "full_time":
        return "closed"
    if state.suspension_reason is not None:
        return "suspended"
    return "open"


def pricing_request(state: FixtureState) -> PricingRequest:
    return PricingRequest(
        home_goals=state.home_goals_expected,
        away_goals=state.away_goals_expected,
        phase=state.match_phase,
        minute=float(state.match_minute),
        home_score=state.home_score,
        away_score=state.away_score,
        home_red_cards=state.home_red_cards,
        away_red_cards=state.away_red_cards,
        suspended=state.suspension_reason is not None,
    )


def price_message(*, event: FeedEvent, state: FixtureState, generated_at: datetime) -> PriceMessage:
    """Price every market of the fixture and wrap the book in the message that is stored and published.

    Parameters
    ----------
    event
        The feed event just applied; it is named in the message so subscribers can measure latency.
    state
        The fixture's state after that event (the workflow's conditional update returns it).
    generated_at
        When the book was priced (timezone-aware).
    """
    markets = price_fixture(pricing_request(state))
    # One validation of the whole message in pydantic's core: building ~130 nested models one Python
    # __init__ at a time cost twice as much as pricing the book (this runs for every feed event).
    return PriceMessage.model_validate(
        {
            "fixture_id": state.fixture_id,
            "sport": state.sport,
            "sequence": state.last_sequence,
            "generated_at": generated_at,
            "status": fixture_status(state),
            "phase": state.match_phase,
            "minute": float(state.match_minute),
            "score": {"home": state.home_score, "away": state.away_score},
            "home_team": state.home_team,
            "away_team": state.away_team,
            "source_event": {"event_id": event.event_id, "type": event.type, "occurred_at": event.occurred_at},
            "markets": [_market(market) for market in markets],
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
