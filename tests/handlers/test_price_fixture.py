"""The pricing Lambda, called with the payload the workflow's PriceMarkets task sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lambdas.models.price_message import PriceMessage
from tests.conftest import FakeLambdaContext
from tests.handlers.conftest import fixture_item, sample

PRICED_AT = datetime(2026, 11, 22, 15, 17, 32, tzinfo=UTC)


def _price(event: dict, fixture: dict, context: FakeLambdaContext) -> PriceMessage:
    from lambdas.handlers.price_fixture import handler

    return PriceMessage.model_validate(handler({"event": event, "fixture": fixture}, context, clock=lambda: PRICED_AT))


def test_goal_reprices_the_book_and_suspends_it(powertools_env: None, lambda_context: FakeLambdaContext) -> None:
    # Given the state after a home goal in minute 17 (the workflow set the suspension)
    event, fixture = sample("goal"), fixture_item()

    # When the handler prices it
    message = _price(event, fixture, lambda_context)

    # Then the message carries the fixture's state, names its source event, and every open market is suspended
    assert (message.fixture_id, message.sequence, message.generated_at) == ("EPL-2026-ARS-CHE", 4, PRICED_AT)
    assert message.score.home == 1 and message.minute == 17 and message.status == "suspended"
    assert message.source_event.event_id == "opta-0004" and message.source_event.type == "goal"
    assert {market.status for market in message.markets} <= {"suspended", "settled", "closed"}
    assert "suspended" in {market.status for market in message.markets}


def test_leading_side_is_favourite_and_selections_are_consistent(
    powertools_env: None, lambda_context: FakeLambdaContext
) -> None:
    # Given the clock moved on after the goal (suspension lifted)
    fixture = fixture_item(match_minute=20, last_event_type="clock", suspension_reason=None)

    # When priced
    message = _price(sample("clock", sequence=5, minute=20), fixture, lambda_context)

    # Then the book is open, the home side (1-0 up) is favourite, and each price is 1 / offered probability
    assert message.status == "open"
    result = next(m for m in message.markets if m.type == "match_result")
    by_name = {s.name: s for s in result.selections}
    assert by_name["home"].fair_probability > by_name["away"].fair_probability
    assert sum(s.fair_probability for s in result.selections) == pytest.approx(1.0, abs=1e-9)
    for market in message.markets:
        for selection in market.selections:
            if market.status == "open":
                assert selection.price == pytest.approx(1 / selection.probability, rel=1e-9)


def test_full_time_closes_the_book(powertools_env: None, lambda_context: FakeLambdaContext) -> None:
    # Given the state at full time
    fixture = fixture_item(
        match_phase="full_time", match_minute=94, last_event_type="full_time", suspension_reason=None
    )

    # When priced
    message = _price(sample("full_time"), fixture, lambda_context)

    # Then nothing is open for betting
    assert message.status == "closed"
    assert {market.status for market in message.markets} <= {"closed", "settled"}


@pytest.mark.parametrize(
    ("fixture_changes", "field"),
    [
        ({"home_goals_expected": None}, "home_goals_expected"),
        ({"match_phase": "extra_time"}, "match_phase"),
        ({"home_score": -1}, "home_score"),
    ],
)
def test_bad_fixture_state_fails_naming_the_field(
    powertools_env: None, lambda_context: FakeLambdaContext, fixture_changes: dict, field: str
) -> None:
    # Given a fixture item the workflow could not have written
    fixture = fixture_item(**fixture_changes)

    # Then the handler fails (the workflow quarantines the event) and the error names the field
    with pytest.raises(ValidationError, match=field):
        _price(sample("goal"), fixture, lambda_context)


def test_message_fits_sns_and_iot_limits(powertools_env: None, lambda_context: FakeLambdaContext) -> None:
    # Given an in-play book
    message = _price(sample("goal"), fixture_item(), lambda_context)

    # Then its JSON fits IoT Core's retained-message limit (128 KB), far inside SNS's 256 KB
    assert len(message.model_dump_json().encode()) < 128 * 1024


def test_a_trader_command_is_named_as_the_source_and_its_settings_apply(
    powertools_env: None, lambda_context: FakeLambdaContext
) -> None:
    from lambdas.handlers.price_fixture import handler

    # Given the state the trader-command workflow returns after suspending correct score (settings as attributes)
    fixture = fixture_item(match_minute=20, suspension_reason=None, revision=9)
    fixture["suspended_market_types"] = {"SS": ["correct_score"]}
    fixture["margin_match_result"] = {"N": "0.1"}
    source = {"event_id": "req-1", "type": "trader:suspend", "occurred_at": "2026-11-22T15:20:00.123Z"}

    # When the handler prices it
    message = PriceMessage.model_validate(
        handler({"source": source, "fixture": fixture}, lambda_context, clock=lambda: PRICED_AT)
    )

    # Then the book names the command, carries the fixture's revision, and the settings shape the markets
    assert (message.source_event.type, message.source_event.event_id, message.revision) == (
        "trader:suspend",
        "req-1",
        9,
    )
    assert {m.status for m in message.markets if m.type == "correct_score"} == {"suspended"}
    (result,) = [m for m in message.markets if m.type == "match_result"]
    assert sum(s.probability for s in result.selections) >= 1.1


def test_a_payload_with_both_or_neither_cause_is_refused(
    powertools_env: None, lambda_context: FakeLambdaContext
) -> None:
    from lambdas.handlers.price_fixture import handler

    source = {"event_id": "req-1", "type": "trader:suspend", "occurred_at": "2026-11-22T15:20:00Z"}
    with pytest.raises(ValidationError, match="exactly one of event"):
        handler({"event": sample("goal"), "source": source, "fixture": fixture_item()}, lambda_context)
    with pytest.raises(ValidationError, match="exactly one of event"):
        handler({"fixture": fixture_item()}, lambda_context)
