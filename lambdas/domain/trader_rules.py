"""The trader rules: given a fixture and one validated trader command, the changes to write or a refusal.

``decide_trader_command`` never raises. Refusals (``TraderDecision.error``) are the trader API's answers:
``FixtureNotFound`` (404), ``CommandNotAllowed`` and ``ConflictingUpdate`` (409), ``InvalidCommand`` (400), each
with the field and the reason. Trader state is bounded: at most ``MAX_OVERRIDES_PER_FIXTURE`` overrides in force
on a fixture and ``MAX_OVERRIDES_PER_MARKET`` on one market, only on selections the fixture's current book offers,
and every command removes the overrides that have expired.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lambdas.domain.feed_rules import reopened
from lambdas.domain.fixture import FeedState
from lambdas.models.fixture_state import (
    FixtureState,
    OverrideKey,
    margin_attribute,
    override_attribute,
)
from lambdas.models.trader_commands import (
    ClearOverrides,
    OverridePrice,
    Reopen,
    Resume,
    SetMargin,
    Suspend,
)

MAX_OVERRIDES_PER_FIXTURE = 20
MAX_OVERRIDES_PER_MARKET = 3
# After this many lost races with concurrent writes (feed events, other commands) the command is refused.
MAX_COMMAND_ATTEMPTS = 5

Outcome = Literal["applied", "already_applied", "refused"]
Refusal = Literal["InvalidCommand", "FixtureNotFound", "CommandNotAllowed", "ConflictingUpdate"]


@dataclass(frozen=True)
class PreMatchInputs:
    """What ``set_pre_match`` leaves on the fixture, in whichever form the trader gave it (see lambdas/logic)."""

    home_goals_expected: float
    away_goals_expected: float
    dixon_coles_rho: float | None


@dataclass(frozen=True)
class TraderDecision:
    """The attributes to set (plain values; sets as frozensets) and remove, or a refusal with its field."""

    outcome: Outcome
    error: Refusal | None = None
    field: str | None = None
    reason: str | None = None
    sets: dict[str, Any] = dataclasses.field(default_factory=dict)
    removes: tuple[str, ...] = ()

    @property
    def cause(self) -> str:
        return f"{self.field}: {self.reason}"


def decide_trader_command(
    fixture: FixtureState | None,
    feed: FeedState | None,
    command: Any,
    *,
    request_id: str,
    actor_kind: str,
    attempt: int,
    now: datetime,
    offered: frozenset[OverrideKey] = frozenset(),
    pre_match: PreMatchInputs | None = None,
) -> TraderDecision:
    """Decide one command (a model of lambdas/models/trader_commands.py, validated) on the fixture as read.

    Parameters
    ----------
    fixture, feed
        The fixture item read as the pricing inputs and as the feed's state; None when there is no fixture.
    request_id
        The API request's id: left on the fixture, so a retry whose write went through is applied once.
    actor_kind
        ``trader`` (the Cognito route) or ``service`` (the IAM route, for operators).
    attempt
        How many times a write of this command lost a race already.
    offered
        The selections (type, line, selection) of the fixture's current book, for ``override_price``.
    pre_match
        ``set_pre_match``'s inputs as goal expectations (and rho when calibrated from odds).
    """
    if fixture is None or feed is None:
        return _refused("FixtureNotFound", "fixture_id", "no fixture with this id (fixtures are created by the feed)")
    if fixture.last_command_id == request_id:
        return TraderDecision("already_applied")
    if attempt >= MAX_COMMAND_ATTEMPTS:
        return _refused(
            "ConflictingUpdate", "fixture_id", "the fixture kept changing while the command was applied; send it again"
        )
    if isinstance(command, Reopen):
        return _reopen(feed, actor_kind, request_id, now)
    if feed.match_period == "full_time":
        return _refused("CommandNotAllowed", "fixture_id", "the fixture is at full time; its markets are closed")
    if command.command == "set_pre_match" and feed.match_period != "pre_match":
        return _refused("CommandNotAllowed", "command", "set_pre_match is only allowed before kick-off")
    in_force = {key: o for key, o in fixture.price_overrides.items() if o.expires_at > now}
    expired = [override_attribute(*key) for key in fixture.price_overrides if key not in in_force]
    change = _change(fixture, command, in_force, offered, pre_match, now)
    if isinstance(change, TraderDecision):
        return change
    sets, removes = change
    sets |= {"last_command_id": request_id, "revision": feed.revision + 1, "updated_at": _stamp(now)}
    return TraderDecision("applied", sets=sets, removes=tuple(sorted({*removes, *expired} - set(sets))))


def _change(
    fixture: FixtureState,
    command: Any,
    in_force: dict[OverrideKey, Any],
    offered: frozenset[OverrideKey],
    pre_match: PreMatchInputs | None,
    now: datetime,
) -> tuple[dict[str, Any], list[str]] | TraderDecision:
    """What the command itself sets and removes."""
    if isinstance(command, Suspend | Resume):
        return _suspension(fixture, command)
    if isinstance(command, SetMargin):
        return {margin_attribute(command.market_type): command.margin}, []
    if isinstance(command, OverridePrice):
        return _override(command, in_force, offered, now)
    if isinstance(command, ClearOverrides):
        return _clear(command, in_force)
    assert pre_match is not None, "set_pre_match is decided with its inputs"
    sets: dict[str, Any] = {
        "home_goals_expected": pre_match.home_goals_expected,
        "away_goals_expected": pre_match.away_goals_expected,
    }
    if pre_match.dixon_coles_rho is None:
        return sets, ["dixon_coles_rho"]
    return sets | {"dixon_coles_rho": pre_match.dixon_coles_rho}, []


def _suspension(fixture: FixtureState, command: Suspend | Resume) -> tuple[dict[str, Any], list[str]]:
    """The whole fixture (``trader_suspended``), a market type (a set of types) or one market (a set of
    ``type#line``, written the same whether the trader sent 2 or 2.0, so a resume finds the suspension it ends)."""
    suspend = isinstance(command, Suspend)
    if command.market_type is None:
        return {"trader_suspended": suspend}, []
    member: str
    if command.line is None:
        name, members = "suspended_market_types", set(fixture.suspended_market_types)
        member = command.market_type
    else:
        name, members = "suspended_markets", {f"{t}#{float(line)!r}" for t, line in fixture.suspended_markets}
        member = f"{command.market_type}#{float(command.line)!r}"
    members = members | {member} if suspend else members - {member}
    # DynamoDB stores no empty set: the last member's removal removes the attribute.
    return ({name: frozenset(members)}, []) if members else ({}, [name])


def _override(
    command: OverridePrice, in_force: dict[OverrideKey, Any], offered: frozenset[OverrideKey], now: datetime
) -> tuple[dict[str, Any], list[str]] | TraderDecision:
    line = None if command.line is None else float(command.line)
    key = (command.market_type, line, command.selection)
    refusal = _not_offered(command, line, offered)
    if refusal is not None:
        return refusal
    others = {k for k in in_force if k != key}
    if len(others) >= MAX_OVERRIDES_PER_FIXTURE:
        return _refused(
            "InvalidCommand", "command", f"the fixture has {MAX_OVERRIDES_PER_FIXTURE} overrides in force already"
        )
    if sum(1 for t, market_line, _ in others if (t, market_line) == key[:2]) >= MAX_OVERRIDES_PER_MARKET:
        return _refused(
            "InvalidCommand", "selection", f"the market has {MAX_OVERRIDES_PER_MARKET} overrides in force already"
        )
    override = {"price": command.price, "set_at": _stamp(now), "for_seconds": command.for_seconds}
    return {override_attribute(*key): override}, []


def _not_offered(command: OverridePrice, line: float | None, offered: frozenset[OverrideKey]) -> TraderDecision | None:
    """Why the current book has no such selection to override, naming the field; None if it has."""
    market_type, selection = command.market_type, command.selection
    lines = {market_line for offered_type, market_line, _ in offered if offered_type == market_type}
    if (market_type, line, selection) in offered:
        return None
    if not lines:
        return _refused("InvalidCommand", "market_type", f"the current book has no {market_type} market")
    if line is None and None not in lines:
        return _refused("InvalidCommand", "line", f"{market_type} markets need a line")
    if line is not None and lines == {None}:
        return _refused("InvalidCommand", "line", f"{market_type} markets have no line")
    if line not in lines:
        return _refused("InvalidCommand", "line", f"the current book has no {market_type} {line:g} line")
    return _refused("InvalidCommand", "selection", f"{market_type} has no selection {selection} in the current book")


def _clear(
    command: ClearOverrides, in_force: dict[OverrideKey, Any]
) -> tuple[dict[str, Any], list[str]] | TraderDecision:
    line = None if command.line is None else float(command.line)

    def matches(key: OverrideKey) -> bool:
        market_type, market_line, selection = key
        return (
            command.market_type in (None, market_type)
            and (command.line is None or market_line == line)
            and command.selection in (None, selection)
        )

    cleared = [override_attribute(*key) for key in in_force if matches(key)]
    if not cleared:
        return _refused(
            "InvalidCommand", "market_type" if command.market_type else "command", "no override in force matches"
        )
    return {}, cleared


def _reopen(feed: FeedState, actor_kind: str, request_id: str, now: datetime) -> TraderDecision:
    if actor_kind != "service":
        return _refused("CommandNotAllowed", "command", "reopen is an operator command: send it on the service route")
    if feed.match_period != "full_time":
        return _refused(
            "CommandNotAllowed", "command", f"only a finished match can be reopened, not {feed.match_period}"
        )
    state = reopened(feed, now=now)
    return TraderDecision(
        "applied",
        sets={
            "match_period": state.match_period,
            "match_phase": state.match_phase,
            "phase_changes": [change.as_text() for change in state.phase_changes],
            "last_command_id": request_id,
            "revision": feed.revision + 1,
            "updated_at": _stamp(now),
        },
    )


def _refused(error: Refusal, field_name: str, reason: str) -> TraderDecision:
    return TraderDecision("refused", error=error, field=field_name, reason=reason)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
