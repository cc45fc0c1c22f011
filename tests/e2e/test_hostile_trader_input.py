"""Hostile input against the trader API (served as deployed by the local gateway): wrong types, missing fields,
bodies over 256 KB, unknown fixtures and injection text in the path and the body, fuzzed with hypothesis
(tests/hostile.py). Each gets a clear 4xx naming the field, the workflow never crashes, and nothing is applied:
the fixture item is unchanged and no audit record is written.

Cognito is out of reach locally: the gateway's local sign-in stands in for it (local_engine/gateway.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.pricing.margins import remove_margin
from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from tests import hostile
from tests.e2e.conftest import match_events

pytestmark = pytest.mark.slow
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIXTURE = "E2E-HOSTILE-TRADER"
PRE_MATCH_FIXTURE = "E2E-HOSTILE-PRE-MATCH"
SET_MARGIN = {"command": "set_margin", "market_type": "match_result", "margin": 0.06}
OVERRIDE = {
    "command": "override_price",
    "market_type": "match_result",
    "line": None,
    "selection": "home",
    "price": 2.2,
    "for_seconds": 60,
}


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        for event in match_events(FIXTURE)[:3]:
            assert engine.run(event).kind == "applied"
        assert engine.run(match_events(PRE_MATCH_FIXTURE)[0]).kind == "applied"
        yield running


@pytest.fixture(scope="module")
def token(gateway: LocalGateway) -> str:
    request = urllib.request.Request(
        f"{gateway.url}/v1/local/sign-in",
        data=json.dumps({"username": "mallory"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        return str(json.loads(response.read())["token"])


def _command(gateway: LocalGateway, token: str, body: bytes, fixture_id: str = FIXTURE) -> tuple[int, Any]:
    url = f"{gateway.url}/v1/fixtures/{quote(fixture_id, safe='')}/commands"
    headers = {"Content-Type": "application/json", "Authorization": token}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _state(engine: LocalEngine, fixture_id: str = FIXTURE) -> tuple[dict[str, Any], int]:
    dynamodb = engine.client("dynamodb")
    item = dynamodb.get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    ).get("Item", {})
    # Refused commands are audited too (outcome "refused"); what must not move is the count of applied ones
    actions = dynamodb.query(
        TableName=engine.table_name("TraderActions"),
        KeyConditionExpression="fixture_id = :f",
        FilterExpression="outcome = :applied",
        ExpressionAttributeValues={":f": {"S": fixture_id}, ":applied": {"S": "applied"}},
    )["Count"]
    return item, actions


@FUZZ
@given(case=hostile.wrong_type_bodies(OVERRIDE, ["market_type", "selection", "price", "for_seconds"]))
def test_a_wrong_type_gets_a_400_naming_the_field(
    gateway: LocalGateway, engine: LocalEngine, token: str, case: tuple
) -> None:
    field, body = case
    before = _state(engine)

    status, answer = _command(gateway, token, json.dumps(body).encode())

    hostile.assert_clear_4xx(status, answer, field=field)
    assert _state(engine) == before


@FUZZ
@given(case=hostile.missing_field_bodies(SET_MARGIN, ["command", "market_type", "margin"]))
def test_a_missing_field_gets_a_400(gateway: LocalGateway, engine: LocalEngine, token: str, case: tuple) -> None:
    _, body = case
    before = _state(engine)

    status, answer = _command(gateway, token, json.dumps(body).encode())

    hostile.assert_clear_4xx(status, answer)
    assert _state(engine) == before


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=hostile.oversized_bodies(OVERRIDE, ["selection"]))
def test_a_body_over_256_kb_gets_a_400(gateway: LocalGateway, engine: LocalEngine, token: str, case: tuple) -> None:
    _, body = case
    before = _state(engine)

    status, answer = _command(gateway, token, body)

    # The edge no longer bounds field sizes (API Gateway's message would echo the value without naming it):
    # Step Functions refuses an input over 256 KB, and that refusal is a 400 naming the body, not a 503 "retry"
    hostile.assert_clear_4xx(status, answer, field="body")
    assert _state(engine) == before


@FUZZ
@given(fixture_id=hostile.injection_text(min_size=1, max_size=60))
def test_an_unknown_or_hostile_fixture_id_is_a_404_and_runs_nothing(
    gateway: LocalGateway, engine: LocalEngine, token: str, fixture_id: str
) -> None:
    if "/" in fixture_id or fixture_id in {".", ".."}:
        fixture_id = fixture_id.replace("/", "_").replace(".", "_")  # a path segment, as a browser would encode it

    status, answer = _command(gateway, token, json.dumps({"command": "suspend"}).encode(), fixture_id=fixture_id)

    hostile.assert_clear_4xx(status, answer, field="fixture_id")
    assert status == 404
    assert _state(engine, fixture_id) == ({}, 0)


def test_a_fixture_id_longer_than_any_key_is_a_404_not_a_dynamodb_error(
    gateway: LocalGateway, engine: LocalEngine, token: str
) -> None:
    # Given a fixture id over DynamoDB's 2,048-byte partition-key limit (it used to reach GetItem: 502 with
    # DynamoDB's own error text)
    fixture_id = "F" * 3000

    # When a trader sends a command for it
    status, answer = _command(gateway, token, json.dumps({"command": "suspend"}).encode(), fixture_id=fixture_id)

    # Then it is a 404 naming fixture_id, like any fixture that does not exist
    assert (status, answer["error"], answer.get("field")) == (404, "FixtureNotFound", "fixture_id")


@FUZZ
@given(selection=hostile.injection_text(min_size=1, max_size=80))
def test_injection_text_in_the_selection_is_refused_naming_it(
    gateway: LocalGateway, engine: LocalEngine, token: str, selection: str
) -> None:
    # The selection name is the one free-text field: the schema's pattern refuses anything but a plain name, and
    # the workflow anything its market type does not offer, so only a real selection is ever stored
    _, actions_before = _state(engine)
    status, answer = _command(gateway, token, json.dumps({**OVERRIDE, "selection": selection}).encode())

    item, actions = _state(engine)
    if selection in ("home", "draw", "away"):
        assert status == 200, answer
    else:
        hostile.assert_clear_4xx(status, answer, field="selection")
        assert actions == actions_before
    assert {name for name in item if name.startswith("override#")} <= {
        f"override#match_result#none#{name}" for name in ("home", "draw", "away")
    }


DECIMAL_PRICES = st.floats(min_value=1.001, max_value=1000.0, allow_nan=False)


@FUZZ
@given(
    odds=st.fixed_dictionaries(dict.fromkeys(("home", "draw", "away", "over_2_5", "under_2_5"), DECIMAL_PRICES)),
    margin_method=st.sampled_from(["power", "shin", "multiplicative"]),
)
def test_any_odds_the_schema_takes_are_calibrated_or_refused_naming_them(
    gateway: LocalGateway, engine: LocalEngine, token: str, odds: dict[str, float], margin_method: str
) -> None:
    # Prices each in range can still describe no match (a 1.01 favourite at a 1.01 draw): the model decides
    before = _state(engine, PRE_MATCH_FIXTURE)
    body = {"command": "set_pre_match", "odds": odds, "margin_method": margin_method}

    status, answer = _command(gateway, token, json.dumps(body).encode(), fixture_id=PRE_MATCH_FIXTURE)

    item, actions = _state(engine, PRE_MATCH_FIXTURE)
    if status == 200:  # calibrated: the book reprices the odds' own fair probabilities, and it was audited
        (match_result,) = [m for m in answer["book"]["markets"] if m["type"] == "match_result"]
        fair = [s["fair_probability"] for s in match_result["selections"]]
        assert fair == pytest.approx(remove_margin([odds["home"], odds["draw"], odds["away"]], margin_method), abs=1e-6)
        assert "dixon_coles_rho" in item and actions == before[1] + 1
    else:  # refused before anything was read or written
        hostile.assert_clear_4xx(status, answer, field="odds.")
        assert status == 400, answer
        assert (item, actions) == before


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"null", b'{"command": "suspend"} trailing'])
def test_a_body_that_is_not_a_command_object_gets_a_400(gateway: LocalGateway, token: str, body: bytes) -> None:
    status, answer = _command(gateway, token, body)

    hostile.assert_clear_4xx(status, answer)


def test_arbitrary_json_never_gets_a_5xx(gateway: LocalGateway, token: str) -> None:
    @settings(max_examples=25, deadline=None)
    @given(body=st.dictionaries(st.text(max_size=12), hostile.JSON_VALUES, max_size=6))
    def check(body: dict[str, Any]) -> None:
        status, _ = _command(gateway, token, json.dumps(body).encode())
        assert status < 500

    check()
