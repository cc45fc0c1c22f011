"""The trader-command models, the committed JSON schema the trader API enforces, and the API's templates agree."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from pydantic import TypeAdapter, ValidationError

from lambdas.models.schema import TRADER_COMMAND_SCHEMA_FILE, trader_command_schema
from lambdas.models.trader_commands import TraderCommand
from local_engine.gateway import validation_errors
from local_engine.mapping_templates import render
from stacks.constructs.trader_api import COMMAND_RESPONSE_TEMPLATE, start_command_template

TRADER_COMMAND = TypeAdapter(TraderCommand)
VALID = [
    {"command": "suspend"},
    {"command": "suspend", "market_type": "total_goals"},
    {"command": "resume", "market_type": None},
    {"command": "set_margin", "market_type": "match_result", "margin": 0.06},
    {"command": "set_pre_match", "home_goals_expected": 1.6, "away_goals_expected": 1.1},
    {"command": "set_pre_match", "supremacy": -0.3, "total_goals_expected": 2.4},
    {"command": "set_pre_match", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6, "over_2_5": 1.95,
     "under_2_5": 1.9}},
    {"command": "set_pre_match", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6, "over_2_5": 1.95,
     "under_2_5": 1.9}, "margin_method": "shin"},
    {"command": "override_price", "market_type": "total_goals", "line": 2.5, "selection": "over", "price": 1.9,
     "for_seconds": 300},
]  # fmt: skip


@pytest.fixture(scope="module")
def api_gateway_validator() -> Draft4Validator:
    return Draft4Validator(json.loads(TRADER_COMMAND_SCHEMA_FILE.read_text()))


def test_committed_schema_is_what_the_models_generate() -> None:
    assert json.loads(TRADER_COMMAND_SCHEMA_FILE.read_text()) == trader_command_schema()
    Draft4Validator.check_schema(trader_command_schema())


@pytest.mark.parametrize("command", VALID, ids=lambda c: c["command"])
def test_valid_commands_pass_the_model_and_the_schema(command: dict, api_gateway_validator: Draft4Validator) -> None:
    TRADER_COMMAND.validate_python(command)
    assert list(api_gateway_validator.iter_errors(command)) == []


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"market_type": "total_goals"}, "command"),
        ({"command": "suspend", "market": "total_goals"}, "market"),
        ({"command": "set_pre_match", "supremacy": 0.4, "total_goals_expected": 2.6, "home_goals": 1.0}, "home_goals"),
    ],
)  # fmt: skip
def test_the_edge_refuses_what_api_gateway_can_name(
    command: dict[str, Any], field: str, api_gateway_validator: Draft4Validator
) -> None:
    # API Gateway's validator names a field only when it is missing or not allowed: the schema checks just that
    problems = list(validation_errors(api_gateway_validator, command))

    assert len(problems) == 1 and field in problems[0], problems


@pytest.mark.parametrize(
    ("command", "field"),
    [
        ({"command": "set_margin", "market_type": "match_result", "margin": 0.9}, "margin"),
        ({"command": "set_margin", "market_type": "match_result", "margin": "5%"}, "margin"),
        ({"command": "set_margin", "market_type": "match_result"}, "margin"),
        ({"command": "suspend", "market_type": "darts"}, "market_type"),
        ({"command": "set_pre_match", "home_goals_expected": 0, "away_goals_expected": 1.0}, "home_goals_expected"),
        ({"command": "set_pre_match", "supremacy": 6.5, "total_goals_expected": 3.0}, "supremacy"),
        ({"command": "set_pre_match", "supremacy": 0.4}, "total_goals_expected"),
        ({"command": "set_pre_match", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6, "over_2_5": 1.95}},
         "under_2_5"),
        ({"command": "set_pre_match", "odds": {"home": 2.1, "draw": 3.4, "away": 3.6, "over_2_5": 1.95,
          "under_2_5": 1.9}, "margin_method": "guess"}, "margin_method"),
        ({"command": "override_price", "market_type": "match_result", "selection": "home", "price": 1.0,
          "for_seconds": 60}, "price"),
        ({"command": "override_price", "market_type": "total_goals", "line": 2.3, "selection": "over",
          "price": 2.0, "for_seconds": 60}, "line"),
        ({"command": "explode"}, "command"),
    ],
)  # fmt: skip
def test_a_bad_value_passes_the_edge_for_the_workflow_to_name(
    command: dict[str, Any], field: str, api_gateway_validator: Draft4Validator
) -> None:
    # In AWS a wrong value would be refused as "numeric instance is greater than the required maximum", without
    # the field; so the edge lets it through and the workflow's CheckTraderCommand Lambda (the model) names it
    assert list(validation_errors(api_gateway_validator, command)) == []
    with pytest.raises(ValidationError) as model_error:
        TRADER_COMMAND.validate_python(command, strict=True)
    assert field in str(model_error.value), model_error.value


def test_the_schema_bounds_are_the_pricing_models() -> None:
    from lambdas.models import feed_events
    from lambdas.pricing import model

    assert (feed_events.MIN_GOAL_EXPECTATION, feed_events.MAX_GOAL_EXPECTATION) == (
        model.MIN_GOAL_EXPECTATION,
        model.MAX_GOAL_EXPECTATION,
    )


# Anything a path segment or a Cognito username can carry, quotes, backslashes, newlines and non-ASCII included.
hostile_text = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(fixture_id=hostile_text, username=hostile_text)
def test_request_template_passes_any_fixture_id_and_username_through_unchanged(fixture_id: str, username: str) -> None:
    # Given a command for that fixture by that trader
    context = {"requestId": "req-1", "authorizer": {"claims": {"cognito:username": username, "sub": "s"}}}
    body = {"command": "suspend", "market_type": "total_goals"}

    # When API Gateway renders the StartSyncExecution request
    rendered = render(
        start_command_template("arn:sm", actor="trader"),
        json.dumps(body),
        context=context,
        params={"path": {"fixture_id": fixture_id}},
    )

    # Then the execution input holds exactly those values: nothing can break out of its JSON string
    request = json.loads(rendered)
    execution_input = json.loads(request["input"])
    assert execution_input["fixture_id"] == fixture_id
    assert execution_input["actor"] == {"kind": "trader", "username": username, "sub": "s"}
    assert execution_input["command"] == body
    assert request["name"] == "trader-req-1"


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ({"status": "FAILED", "error": "InvalidCommand", "cause": "command: unknown"}, 400),
        ({"status": "FAILED", "error": "FixtureNotFound", "cause": "fixture_id: no fixture"}, 404),
        ({"status": "FAILED", "error": "CommandNotAllowed", "cause": "command: only before kick-off"}, 409),
        ({"status": "FAILED", "error": "ConflictingUpdate", "cause": "fixture_id: kept changing"}, 409),
        ({"status": "FAILED", "error": "InvalidCommand", "cause": "odds.home, odds.draw: cannot happen"}, 400),
        ({"status": "FAILED", "error": "DynamoDB.AmazonDynamoDBException", "cause": 'it\'s "down"'}, 502),
        ({"status": "FAILED", "error": "States.TaskFailed", "cause": "table: unreachable"}, 502),
        ({"status": "TIMED_OUT"}, 504),
    ],
)
def test_response_template_maps_a_failed_execution_to_its_status(result: dict[str, str], status: int) -> None:
    context: dict[str, Any] = {"responseOverride": {}}

    body = json.loads(render(COMMAND_RESPONSE_TEMPLATE, json.dumps(result), context=context))

    assert context["responseOverride"]["status"] == status
    expected = {"message": result.get("cause", ""), "error": result.get("error", "")}
    named = result.get("cause", "").split(":")[0]
    if status < 500 and named.replace("_", "").replace(".", "").isalnum():
        # a refusal's cause starts with the one field it names: the console marks that input
        expected["field"] = named
    assert body == expected


def test_response_template_answers_a_succeeded_execution_with_its_output() -> None:
    output = {"fixture_id": "FX-1", "command": "suspend", "revision": 7, "published": True, "book": {"markets": []}}
    context: dict[str, Any] = {"responseOverride": {}}

    body = render(
        COMMAND_RESPONSE_TEMPLATE, json.dumps({"status": "SUCCEEDED", "output": json.dumps(output)}), context=context
    )

    assert json.loads(body) == output and context["responseOverride"] == {}


def test_market_types_are_the_pricing_engines_and_no_workflow_lists_them() -> None:
    # Given the pricing engine's market types, the command model's, and the workflows' definitions
    from typing import get_args

    from lambdas.models.trader_commands import MarketType
    from lambdas.pricing.engine import MARKET_TYPES
    from stacks.constants import STATE_MACHINES_DIR

    definitions = [path.read_text() for path in STATE_MACHINES_DIR.glob("*.asl.json")]

    # Then the model's list is the engine's, and no workflow repeats it: the domain core decides what a command
    # may name (a market type cannot be priced but refused, or accepted but unknown)
    assert get_args(MarketType) == MARKET_TYPES
    assert not [t for t in MARKET_TYPES for definition in definitions if f'"{t}"' in definition]


@pytest.mark.parametrize(
    ("error_type", "status", "field"),
    [
        ("ThrottlingException", 503, None),
        ("com.amazonaws.swf.service.v2.model#ThrottlingException", 503, None),
        ("ValidationException", 400, "body"),
        ("InvalidExecutionInput", 400, "body"),
        ("AccessDeniedException", 500, None),
        ("StateMachineDoesNotExist", 500, None),
    ],
)
def test_a_refused_start_is_answered_by_why(error_type: str, status: int, field: str | None) -> None:
    # Given Step Functions refusing StartSyncExecution with a 4xx, its AWS JSON error body as API Gateway passes it
    from stacks.constructs.rest_api import refused_start_template

    context: dict[str, Any] = {"responseOverride": {}}
    template = refused_start_template('{"message": "trader workflow unavailable, retry"}')

    # When the integration response renders it
    body = json.loads(render(template, json.dumps({"__type": error_type, "message": "no"}), context=context))

    # Then only throttling says retry; a body too large for an execution is the caller's 400, naming the body;
    # anything else is the deployment's fault, not the caller's
    assert context["responseOverride"].get("status", 400) == status
    assert body.get("field") == field
    assert ("retry" in body["message"]) == (status == 503)
