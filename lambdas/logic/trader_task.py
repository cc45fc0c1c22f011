"""The trader-command workflow's one task: validate a command, decide it with the domain core
(lambdas/domain/trader_rules.py) on the fixture as read, price the book, and tell the workflow what to audit,
write, store and publish (statemachines/trader_command.asl.json routes on ``route``).

``set_pre_match`` is turned into the model's inputs here (goal expectations, supremacy and total, or odds to
calibrate from, docs/pricing.md); the pricing package is imported only for it and for ``override_price`` (which
is checked against the current book), so a suspension's cold start does not load it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from lambdas.adapters.dynamodb_json import from_dynamodb_item
from lambdas.domain.fixture import FeedState
from lambdas.domain.trader_rules import PreMatchInputs, TraderDecision, decide_trader_command
from lambdas.logic.fixture_publication import fixture_after, fixture_update, publication
from lambdas.models.fixture_state import FixtureState, OverrideKey
from lambdas.models.price_message import SourceEvent
from lambdas.models.trader_commands import (
    OverridePrice,
    PreMatchCommand,
    SetPreMatch,
    SetPreMatchFromOdds,
    TraderCommand,
)

Route = Literal["write", "publish", "refuse"]
# DynamoDB's partition key is at most 2,048 bytes: no fixture can have a longer id, so none is read.
MAX_FIXTURE_ID_BYTES = 2048
_TRADER_COMMAND: TypeAdapter[Any] = TypeAdapter(TraderCommand)
# The pricing package names its inputs as its own functions do; the API names them as the command does.
_API_FIELD = {
    "supremacy": "supremacy",
    "total": "total_goals_expected",
    "odds (home, draw, away)": "odds.home, odds.draw, odds.away",
    "odds (over25, under25)": "odds.over_2_5, odds.under_2_5",
    "odds (draw)": "odds.draw",
    "margin_method": "margin_method",
    # from pricing the result once, before it is stored
    "home_goals": "home_goals_expected",
    "away_goals": "away_goals_expected",
    "rho": "odds.draw",
}


@dataclass(frozen=True)
class TraderTask:
    """What the workflow passes: the API's request (fixture, request id, who asked, the command body), the
    execution (its id for the publication claim, its name and start for the audit) and lost write races so far."""

    request: Any
    execution_id: str
    execution_name: str
    started_at: str
    attempt: int = 0


def run_trader_task(
    task: TraderTask, *, read_fixture: Callable[[str], dict[str, Any] | None], now: datetime
) -> dict[str, Any]:
    """The workflow's answer for one trader command."""
    request = task.request if isinstance(task.request, dict) else {}
    fixture_id, request_id = request.get("fixture_id"), request.get("request_id")
    if not (isinstance(fixture_id, str) and isinstance(request_id, str) and isinstance(request.get("command"), dict)):
        refusal = TraderDecision(
            "refused", "InvalidCommand", "command", "the request needs fixture_id, request_id and a command object"
        )
        return _refuse(refusal, task, fixture_id if isinstance(fixture_id, str) else "", str(request_id))
    try:
        # Strict, as JSON Schema is: "0.05" is not a margin, 60.0 is not a number of seconds.
        command = _TRADER_COMMAND.validate_python(request["command"], strict=True)
    except ValidationError as error:
        field, reason = _first_problem(error)
        return _refuse(TraderDecision("refused", "InvalidCommand", field, reason), task, fixture_id, request_id)
    pre_match = _pre_match_inputs(command) if isinstance(command, PreMatchCommand) else None
    if isinstance(pre_match, TraderDecision):
        return _refuse(pre_match, task, fixture_id, request_id)
    item = read_fixture(fixture_id) if len(fixture_id.encode("utf-8", "replace")) <= MAX_FIXTURE_ID_BYTES else None
    fixture = feed = None
    plain: dict[str, Any] = {}
    if item is not None:
        plain = from_dynamodb_item(item)
        try:
            fixture, feed = FixtureState.model_validate(plain), FeedState.model_validate(plain)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            location = ".".join(str(part) for part in first["loc"])
            return _answer("refuse", task, error="UnreadableFixture", cause=f"{location}: {first['msg']}")
    decision = decide_trader_command(
        fixture,
        feed,
        command,
        request_id=request_id,
        actor_kind=str((request.get("actor") or {}).get("kind", "")),
        attempt=task.attempt,
        now=now,
        offered=_offered(fixture, now) if isinstance(command, OverridePrice) and fixture else frozenset(),
        pre_match=pre_match,
    )
    if decision.outcome == "refused" or item is None or fixture is None or feed is None:
        return _refuse(decision, task, fixture_id, request_id)
    return _applied(decision, task, plain, fixture, feed, command.command, now)


def _applied(
    decision: TraderDecision,
    task: TraderTask,
    stored: dict[str, Any],
    fixture: FixtureState,
    feed: FeedState,
    command_name: str,
    now: datetime,
) -> dict[str, Any]:
    """Audit, write (unless this command's own write went through already), store and publish."""
    already = decision.outcome == "already_applied"
    after = fixture_after(stored, decision.sets, decision.removes)
    message = _price(after, task.request["request_id"], command_name, feed.updated_at if already else now)
    request = task.request
    answer = _answer(
        "publish" if already else "write",
        task,
        outcome=decision.outcome,
        response={"fixture_id": request["fixture_id"], "command": command_name, "revision": message.revision},
        audit_applied=_audit(task, "2-applied", after_state=_plain(after), revision=message.revision),
        **publication(message, event_type=f"trader:{command_name}", execution_id=task.execution_id),
    )
    if not already:
        answer["audit_requested"] = _audit(task, "1-requested", before=_plain(fixture), revision=feed.revision)
        answer["write"] = fixture_update(
            request["fixture_id"], decision.sets, decision.removes, expected_revision=feed.revision
        )
    return answer


def _price(state: FixtureState, request_id: str, command_name: str, at: datetime) -> Any:
    from lambdas.logic.price_book import price_message  # numpy and the engine: not for a refused command

    source = SourceEvent(event_id=request_id, type=f"trader:{command_name}", occurred_at=at)
    return price_message(source=source, state=state, generated_at=at)


def _offered(fixture: FixtureState, now: datetime) -> frozenset[OverrideKey]:
    """Every selection of the fixture's current book: an override is only taken on one of them."""
    from lambdas.logic.price_book import pricing_request
    from lambdas.pricing import price_fixture

    return frozenset(
        (market.type, market.line, selection.name)
        for market in price_fixture(pricing_request(fixture, now))
        for selection in market.selections
    )


def _pre_match_inputs(command: PreMatchCommand) -> PreMatchInputs | TraderDecision:
    """``set_pre_match`` in any form as goal expectations (and rho when calibrated from odds), priced once: every
    later book of the fixture is priced from what is stored, so it must price now."""
    from lambdas.pricing import PricingRequest, price_fixture
    from lambdas.pricing.model import DEFAULT_RHO, PricingInputError, goal_expectations_from_supremacy
    from lambdas.pricing.odds import dixon_coles_from_odds

    rho: float | None = None
    try:
        if isinstance(command, SetPreMatch):
            home, away = command.home_goals_expected, command.away_goals_expected
        elif isinstance(command, SetPreMatchFromOdds):
            odds = command.odds
            home, away, rho = dixon_coles_from_odds(
                odds.home, odds.draw, odds.away, odds.over_2_5, odds.under_2_5, margin_method=command.margin_method
            )
        else:
            home, away = goal_expectations_from_supremacy(command.supremacy, command.total_goals_expected)
        price_fixture(PricingRequest(home, away, rho=DEFAULT_RHO if rho is None else rho))
    except PricingInputError as error:
        return TraderDecision("refused", "InvalidCommand", _API_FIELD.get(error.field, error.field), error.reason)
    return PreMatchInputs(home_goals_expected=home, away_goals_expected=away, dixon_coles_rho=rho)


def _first_problem(error: ValidationError) -> tuple[str, str]:
    problem = error.errors(include_url=False)[0]
    location = ".".join(str(part) for part in problem["loc"][1:])  # [0] is the form's tag
    message = str(problem["msg"]).removeprefix("Value error, ")
    if problem["type"] == "invalid_command" or not location:
        # the command's own check (a discriminator, a model validator) names the field itself: "field: reason"
        field, _, reason = message.partition(": ")
        return (field, reason) if reason else ("command", message)
    return location, message


def _refuse(decision: TraderDecision, task: TraderTask, fixture_id: str, request_id: str) -> dict[str, Any]:
    """A refusal is audited too (who tried what, when and why), filed under the fixture id it named; one that can
    be no key (empty, or over DynamoDB's 2,048 bytes) under ``unfiled:`` and a digest of it."""
    if not 0 < len(fixture_id.encode("utf-8", "replace")) <= MAX_FIXTURE_ID_BYTES:
        fixture_id = "unfiled:" + hashlib.sha256(fixture_id.encode("utf-8", "replace")).hexdigest()[:32]
    return _answer(
        "refuse",
        task,
        outcome="refused",
        error=decision.error,
        cause=decision.cause,
        audit_refused=_audit(
            task,
            "2-refused",
            fixture_id=fixture_id,
            request_id=request_id,
            refusal={"error": decision.error, "cause": decision.cause},
        ),
    )


def _audit(task: TraderTask, record: str, **fields: Any) -> dict[str, Any]:
    """One append-only record of the audit (TraderActions): ``{start}#{request id}#{record}``."""
    request = task.request if isinstance(task.request, dict) else {}
    request_id = str(fields.pop("request_id", request.get("request_id")))
    item: dict[str, Any] = {
        "fixture_id": {"S": fields.pop("fixture_id", request.get("fixture_id"))},
        "action_id": {"S": f"{task.started_at}#{request_id}#{record}"},
        "requested_at": {"S": task.started_at},
        "request_id": {"S": request_id},
        "execution_name": {"S": task.execution_name},
        "actor": {"S": json.dumps(request.get("actor"), sort_keys=True)},
        "command": {"S": json.dumps(request.get("command"), sort_keys=True)},
        "outcome": {"S": record.split("-", 1)[1]},
    }
    for name, value in fields.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": json.dumps(value, sort_keys=True)}
    return item


def _plain(state: FixtureState) -> dict[str, Any]:
    return state.model_dump(mode="json", exclude={"price_overrides"}) | {
        "price_overrides": [
            {"market_type": t, "line": line, "selection": s, **o.model_dump(mode="json")}
            for (t, line, s), o in sorted(state.price_overrides.items(), key=str)
        ]
    }


def _answer(route: Route, task: TraderTask, **fields: Any) -> dict[str, Any]:
    return {"route": route, "attempt": task.attempt + 1, **fields}
