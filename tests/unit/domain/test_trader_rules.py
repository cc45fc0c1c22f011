"""The trader rules, case by case: refusals with their field, bounded overrides, expiry, suspensions, reopening."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from lambdas.domain.fixture import FeedState
from lambdas.domain.trader_rules import (
    MAX_COMMAND_ATTEMPTS,
    MAX_OVERRIDES_PER_FIXTURE,
    MAX_OVERRIDES_PER_MARKET,
    PreMatchInputs,
    TraderDecision,
    decide_trader_command,
)
from lambdas.models.fixture_state import FixtureState, override_attribute
from lambdas.models.trader_commands import TraderCommand
from tests.unit.domain.feeds import NOW, clock, created, phase, play, whole_match

COMMAND = TypeAdapter(TraderCommand)
OFFERED = frozenset(
    {("match_result", None, name) for name in ("home", "draw", "away")}
    | {("total_goals", line, side) for line in (1.5, 2.5, 3.5) for side in ("over", "under")}
    | {("correct_score", None, f"{h}-{a}") for h in range(3) for a in range(3)}
)


def _fixture(feed: list[dict[str, Any]] | None = None, **trader: Any) -> tuple[FixtureState, FeedState]:
    state, _ = play(feed if feed is not None else [created(1), phase(2, "kick_off")])
    assert state is not None
    plain = state.attributes() | trader
    return FixtureState.model_validate(plain), FeedState.model_validate(plain)


def _decide(
    body: dict[str, Any], *, fixture: tuple[FixtureState, FeedState] | None = None, **options: Any
) -> TraderDecision:
    fixture_state, feed = fixture if fixture is not None else _fixture()
    return decide_trader_command(
        fixture_state,
        feed,
        COMMAND.validate_python(body),
        request_id=options.pop("request_id", "req-9"),
        actor_kind=options.pop("actor_kind", "trader"),
        attempt=options.pop("attempt", 0),
        now=options.pop("now", NOW),
        offered=options.pop("offered", OFFERED),
        **options,
    )


def _override(
    market_type: str, line: float | None, selection: str, *, set_at: Any = NOW, seconds: int = 600
) -> dict[str, Any]:
    return {
        override_attribute(market_type, line, selection): {
            "price": 3.0,
            "set_at": set_at.isoformat(),
            "for_seconds": seconds,
        }
    }


def test_an_unknown_fixture_is_not_found() -> None:
    # When a command names no fixture
    decision = decide_trader_command(
        None,
        None,
        COMMAND.validate_python({"command": "suspend"}),
        request_id="r",
        actor_kind="trader",
        attempt=0,
        now=NOW,
    )

    # Then it is FixtureNotFound on fixture_id, the cause naming it first
    assert (decision.outcome, decision.error, decision.field) == ("refused", "FixtureNotFound", "fixture_id")
    assert decision.cause.startswith("fixture_id: no fixture with this id")


def test_a_command_whose_write_went_through_is_applied_once() -> None:
    # Given a fixture that holds this request's id (its write went through, its answer was lost)
    fixture = _fixture(last_command_id="req-9")

    # When the same request is decided again
    decision = _decide({"command": "suspend"}, fixture=fixture)

    # Then it is already applied: nothing more to write
    assert decision.outcome == "already_applied" and not decision.sets


def test_a_command_that_keeps_losing_races_is_a_conflicting_update() -> None:
    decision = _decide({"command": "suspend"}, attempt=MAX_COMMAND_ATTEMPTS)

    assert (decision.error, decision.field) == ("ConflictingUpdate", "fixture_id")


@pytest.mark.parametrize(
    ("feed", "body", "field"),
    [
        (whole_match(), {"command": "suspend"}, "fixture_id"),
        (
            whole_match()[:2],
            {"command": "set_pre_match", "home_goals_expected": 1.0, "away_goals_expected": 1.0},
            "command",
        ),
    ],
)
def test_commands_the_period_does_not_allow_are_refused(
    feed: list[dict[str, Any]], body: dict[str, Any], field: str
) -> None:
    decision = _decide(body, fixture=_fixture(feed))

    assert (decision.error, decision.field) == ("CommandNotAllowed", field)


def test_every_applied_command_adds_one_revision_and_leaves_its_request_id() -> None:
    # When a margin is set on a fixture at revision 2
    decision = _decide({"command": "set_margin", "market_type": "match_result", "margin": 0.07})

    # Then the margin, the request id and revision 3 are set
    assert decision.outcome == "applied"
    assert decision.sets == {
        "margin_match_result": 0.07,
        "last_command_id": "req-9",
        "revision": 3,
        "updated_at": "2026-11-22T18:00:00Z",
    }


@pytest.mark.parametrize(
    ("body", "before", "name", "after"),
    [
        ({"command": "suspend"}, {}, "trader_suspended", True),
        ({"command": "resume"}, {"trader_suspended": True}, "trader_suspended", False),
        ({"command": "suspend", "market_type": "total_goals"}, {},
         "suspended_market_types", frozenset({"total_goals"})),
        ({"command": "suspend", "market_type": "total_goals", "line": 2}, {"suspended_markets": {"total_goals#3.5"}},
         "suspended_markets", frozenset({"total_goals#2.0", "total_goals#3.5"})),
        ({"command": "resume", "market_type": "total_goals", "line": 3.5},
         {"suspended_markets": {"total_goals#3.5", "total_goals#2.0"}},
         "suspended_markets", frozenset({"total_goals#2.0"})),
    ],
)  # fmt: skip
def test_suspensions_are_kept_as_sets_keyed_the_same_however_the_line_is_written(
    body: dict[str, Any], before: dict[str, Any], name: str, after: Any
) -> None:
    decision = _decide(body, fixture=_fixture(**before))

    assert decision.sets[name] == after


def test_resuming_the_last_suspended_market_type_removes_the_set() -> None:
    # DynamoDB stores no empty set
    decision = _decide(
        {"command": "resume", "market_type": "total_goals"}, fixture=_fixture(suspended_market_types={"total_goals"})
    )

    assert "suspended_market_types" in decision.removes and "suspended_market_types" not in decision.sets


def test_pre_match_inputs_replace_a_calibration_or_bring_their_own() -> None:
    # When goal expectations come without a rho, and with one
    plain = _decide(
        {"command": "set_pre_match", "home_goals_expected": 1.2, "away_goals_expected": 1.0},
        fixture=_fixture([created(1)]),
        pre_match=PreMatchInputs(1.2, 1.0, None),
    )
    calibrated = _decide(
        {"command": "set_pre_match", "home_goals_expected": 1.2, "away_goals_expected": 1.0},
        fixture=_fixture([created(1)]),
        pre_match=PreMatchInputs(1.3, 0.9, -0.05),
    )

    # Then the first drops a stored rho, the second stores its own
    assert "dixon_coles_rho" in plain.removes and plain.sets["home_goals_expected"] == 1.2
    assert calibrated.sets["dixon_coles_rho"] == -0.05 and "dixon_coles_rho" not in calibrated.removes


def _override_body(
    market_type: str = "match_result", selection: str = "home", line: float | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "command": "override_price",
        "market_type": market_type,
        "selection": selection,
        "price": 2.5,
        "for_seconds": 600,
    }
    return body | ({"line": line} if line is not None else {})


def test_an_override_on_an_offered_selection_is_stored_with_its_time() -> None:
    decision = _decide(_override_body("total_goals", "over", 2.5))

    assert decision.sets[override_attribute("total_goals", 2.5, "over")] == {
        "price": 2.5,
        "set_at": "2026-11-22T18:00:00Z",
        "for_seconds": 600,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_override_body("total_goals", "over", 19.75), "line"),
        (_override_body("total_goals", "over"), "line"),
        (_override_body("match_result", "home", 2.5), "line"),
        (_override_body("both_teams_to_score", "yes"), "market_type"),
        (_override_body("correct_score", "9-9"), "selection"),
        (_override_body("match_result", "hoem"), "selection"),
    ],
)
def test_an_override_the_current_book_does_not_offer_is_refused(body: dict[str, Any], field: str) -> None:
    decision = _decide(body)

    assert (decision.error, decision.field) == ("InvalidCommand", field)


def test_overrides_are_bounded_per_market_and_per_fixture() -> None:
    # Given a market with its maximum of overrides in force, and a fixture with its maximum
    per_market = {}
    for selection in ("0-0", "0-1", "0-2")[:MAX_OVERRIDES_PER_MARKET]:
        per_market |= _override("correct_score", None, selection)
    per_fixture = {}
    for n in range(MAX_OVERRIDES_PER_FIXTURE):
        per_fixture |= _override("team_total", float(n), "over")

    # When one more is set on each
    market = _decide(_override_body("correct_score", "1-1"), fixture=_fixture(**per_market))
    fixture = _decide(_override_body(), fixture=_fixture(**per_fixture))
    # ...or an override already in force is set again
    again = _decide(_override_body("correct_score", "0-0"), fixture=_fixture(**per_market))

    # Then the first two are refused naming the limit, the third replaces its own
    assert (market.error, market.field) == ("InvalidCommand", "selection")
    assert (fixture.error, fixture.field) == ("InvalidCommand", "command")
    assert again.outcome == "applied"


def test_every_command_removes_the_overrides_that_expired() -> None:
    # Given one override expired and one in force
    expired = _override("match_result", None, "home", set_at=NOW - timedelta(hours=2), seconds=60)
    in_force = _override("match_result", None, "away")

    # When any command is applied
    decision = _decide({"command": "suspend"}, fixture=_fixture(**expired, **in_force))

    # Then the expired one is removed from the item, the one in force stays
    assert decision.removes == (override_attribute("match_result", None, "home"),)


@pytest.mark.parametrize(
    ("body", "cleared"),
    [
        ({"command": "clear_overrides"}, 3),
        ({"command": "clear_overrides", "market_type": "total_goals"}, 2),
        ({"command": "clear_overrides", "market_type": "total_goals", "line": 2.5}, 1),
        ({"command": "clear_overrides", "market_type": "match_result", "selection": "home"}, 1),
    ],
)
def test_clear_overrides_removes_the_matching_ones(body: dict[str, Any], cleared: int) -> None:
    overrides = (
        _override("match_result", None, "home")
        | _override("total_goals", 2.5, "over")
        | _override("total_goals", 3.5, "over")
    )

    decision = _decide(body, fixture=_fixture(**overrides))

    assert decision.outcome == "applied" and len(decision.removes) == cleared


def test_clear_overrides_with_nothing_to_clear_is_refused() -> None:
    decision = _decide({"command": "clear_overrides", "market_type": "total_goals"})

    assert (decision.error, decision.field) == ("InvalidCommand", "market_type")


def test_an_operator_reopens_a_finished_match_and_the_feed_then_corrects_the_result() -> None:
    # Given a finished match
    fixture, feed = _fixture(whole_match())

    # When a trader tries to reopen it, an operator reopens something unfinished, and an operator reopens it
    by_trader = _decide({"command": "reopen"}, fixture=(fixture, feed))
    too_early = _decide({"command": "reopen"}, fixture=_fixture(), actor_kind="service")
    reopened = _decide({"command": "reopen"}, fixture=(fixture, feed), actor_kind="service")

    # Then only the operator's reopening of the finished match is applied: back in the second half
    assert (by_trader.error, too_early.error) == ("CommandNotAllowed", "CommandNotAllowed")
    assert reopened.outcome == "applied"
    assert (reopened.sets["match_period"], reopened.sets["match_phase"]) == ("second_half", "in_play")
    # ...and the feed's next events apply, its next full time a correction of the result (revision 2)
    state = FeedState.model_validate(feed.attributes() | reopened.sets)
    after, decisions = play([clock(20, 93), phase(21, "full_time")], state)
    assert [d.outcome for d in decisions] == ["applied", "applied"]
    assert after is not None and (after.match_period, after.result_revision) == ("full_time", 2)
