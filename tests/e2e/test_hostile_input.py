"""Hostile input against the ingest API (served as deployed by the local gateway) and the feed workflow itself.

Fuzzed with hypothesis (tests/hostile.py): wrong types, missing fields, bodies over 256 KB, injection text,
arbitrary JSON. The API answers each with a clear 4xx or accepts it intact; the workflow, run directly (as a
replay or an operator would), ends every execution in one of its designed final states, never a crash.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_engine.engine import OUTCOME_BY_FINAL_STATE, LocalEngine
from local_engine.gateway import LocalGateway
from tests import hostile
from tests.e2e.conftest import match_events, queue_bodies_for

pytestmark = pytest.mark.slow
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENVELOPE = ["event_id", "fixture_id", "sport", "sequence", "occurred_at", "type"]
CREATED = match_events("E2E-HOSTILE")[0]  # a valid fixture_created event
GOAL = match_events("E2E-HOSTILE")[3]  # a valid goal
REFUSED = match_events("E2E-HOSTILE-REFUSED")[0]  # valid, for bodies made invalid otherwise


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        yield running


def _post(gateway: LocalGateway, body: bytes, *, garble: tuple[str, str] | None = None) -> tuple[int, Any]:
    """POST /v1/feed-events signed as the forwarder signs (SigV4, the engine's fake credentials).

    ``garble`` (a regex and its replacement) garbles the signed Authorization header. A dropped connection (the
    gateway gave no answer at all) raises here: every request must have an HTTP answer.
    """
    url = f"{gateway.url}/v1/feed-events"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("local-engine", "local-engine"), "execute-api", "eu-west-1").add_auth(request)
    headers = dict(request.prepare().headers)
    if garble is not None:
        headers["Authorization"] = re.sub(*garble, headers["Authorization"], count=1)
    http_request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(http_request, timeout=60) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@FUZZ
@given(case=hostile.wrong_type_bodies(CREATED, ENVELOPE))
def test_a_wrong_type_in_the_envelope_gets_a_400_naming_the_field(gateway: LocalGateway, case: tuple) -> None:
    field, body = case
    status, answer = _post(gateway, json.dumps(body).encode())
    hostile.assert_clear_4xx(status, answer, field=field)
    assert answer["error"] == "invalid feed event"


@FUZZ
@given(case=hostile.missing_field_bodies(CREATED, ENVELOPE))
def test_missing_envelope_fields_get_a_400_naming_one(gateway: LocalGateway, case: tuple) -> None:
    _, body = case
    missing = [name for name in ENVELOPE if name not in body]
    status, answer = _post(gateway, json.dumps(body).encode())
    hostile.assert_clear_4xx(status, answer)
    assert any(f"'{name}' is a required property" in answer["detail"] for name in missing), answer


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=hostile.oversized_bodies(CREATED, ["home_team", "competition", "fixture_id", "event_id"]))
def test_a_body_over_256_kb_is_refused(gateway: LocalGateway, case: tuple) -> None:
    # Every field is bounded (additionalProperties false, lengths and patterns), so no body over the limit
    # can be a valid event: it is refused with a 400 before anything starts
    field, body = case
    assert len(body) > hostile.PAYLOAD_LIMIT_BYTES
    status, answer = _post(gateway, body)
    hostile.assert_clear_4xx(status, answer, field=field)
    assert len(json.dumps(answer)) < 2000  # the huge value is not echoed back whole


@pytest.mark.parametrize(("change", "field"), [({"minute": "x"}, "minute"), ({"team": "both"}, "team")])
def test_a_bad_field_of_the_events_own_type_is_named(gateway: LocalGateway, change: dict, field: str) -> None:
    status, answer = _post(gateway, json.dumps({**GOAL, **change}).encode())
    hostile.assert_clear_4xx(status, answer, field=field)


@FUZZ
@given(
    fixture_id=hostile.injection_text(min_size=1, max_size=48).filter(lambda text: not text.isalnum()),
)
def test_injection_in_the_fixture_id_is_refused_before_it_reaches_the_execution_name(
    gateway: LocalGateway, fixture_id: str
) -> None:
    status, answer = _post(gateway, json.dumps({**CREATED, "fixture_id": fixture_id}).encode())
    if all(c.isascii() and (c.isalnum() or c in "_-") for c in fixture_id):
        assert status == 202  # only letters, digits, _ and -: a legal id and a legal execution name
    else:
        hostile.assert_clear_4xx(status, answer, field="fixture_id")


@FUZZ
@given(home_team=hostile.injection_text(min_size=1), competition=hostile.injection_text(min_size=1))
def test_injection_text_in_free_fields_is_carried_verbatim(
    gateway: LocalGateway, engine: LocalEngine, home_team: str, competition: str
) -> None:
    # Given a valid event whose free-text fields try to break out of the mapping template
    event = {**CREATED, "fixture_id": "E2E-HOSTILE-TEXT", "home_team": home_team, "competition": competition}

    # When it is posted
    status, answer = _post(gateway, json.dumps(event).encode())

    # Then it is accepted and the workflow receives exactly what was sent: nothing evaluated, nothing lost
    assert status == 202, answer
    execution = engine.client("stepfunctions").describe_execution(executionArn=answer["execution_arn"])
    assert json.loads(execution["input"]) == event


@FUZZ
@given(body=hostile.JSON_VALUES)
def test_arbitrary_json_is_refused_or_accepted_never_a_server_error(gateway: LocalGateway, body: Any) -> None:
    status, answer = _post(gateway, json.dumps(body).encode())
    assert status in {202, 400}, (status, answer)
    if status == 400:
        hostile.assert_clear_4xx(status, answer)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1000 + b"]" * 1000, "body: nested deeper than"),
        (json.dumps({**REFUSED, "home_goals_expected": float("nan")}).encode(), "body: not JSON (NaN"),
        (json.dumps({**REFUSED, "away_goals_expected": float("inf")}).encode(), "body: not JSON (Infinity"),
        (json.dumps(REFUSED).encode().replace(REFUSED["home_team"].encode(), b"Ars\xffnal"), "body: not UTF-8"),
        (json.dumps({**REFUSED, "fixture_id": "E2E-HOSTILE-REFUSED\n"}).encode(), "fixture_id: "),
    ],
    ids=["nested-1000-deep", "NaN", "Infinity", "invalid-UTF-8", "fixture-id-with-trailing-newline"],
)
def test_a_body_api_gateway_would_refuse_gets_a_400_saying_why(
    gateway: LocalGateway, engine: LocalEngine, body: bytes, reason: str
) -> None:
    # Given a body API Gateway's validator refuses: not JSON to its parser (RFC 8259: UTF-8, no NaN), or a fixture
    # id outside its pattern (ECMA 262: '$' is the end of the input, so no newline before it)
    # When it is posted
    status, answer = _post(gateway, body)

    # Then the gateway answers (it used to drop the connection or store U+FFFD) with a 400 saying why, and nothing
    # started: no execution exists for the fixture
    hostile.assert_clear_4xx(status, answer)
    assert answer["error"] == "invalid feed event" and reason in answer["detail"], answer
    assert not _executions_named(engine, "feed-E2E-HOSTILE-REFUSED")


def test_a_lone_surrogate_in_a_team_name_reaches_the_workflow_and_is_quarantined_as_malformed(
    gateway: LocalGateway, engine: LocalEngine
) -> None:
    # Given an event whose team name is the JSON escape "\ud800": valid JSON text (RFC 8259 section 8.2) that API
    # Gateway's parser reads, and a string of one character that the schema's length bound accepts
    event = {**CREATED, "fixture_id": "E2E-HOSTILE-SURROGATE", "home_team": "\ud800"}

    # When it is posted
    status, answer = _post(gateway, json.dumps(event).encode())
    engine.drain()

    # Then the API accepts it as API Gateway would, and the workflow refuses it as MalformedEvent, naming the field
    assert (status, answer["outcome"]) == (202, "quarantined"), answer
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", "E2E-HOSTILE-SURROGATE")
    assert message["error"] == "MalformedEvent" and "home_team" in message["cause"], message


@pytest.mark.parametrize(
    ("garble", "message"),
    [
        ((r"^.*$", "AWS4-HMAC-SHA256 garbage"), "'garbage' not a valid key=value pair (missing equal-sign)"),
        ((r"^.*$", "eyJhbGciOiJIUzI1NiJ9"), "Authorization header requires 'Credential' parameter."),
        ((r"/aws4_request", ""), "Credential must have exactly 5 slash-delimited elements"),
        ((r"Signature=\w+", "Signature=not-a-signature"), "The request signature we calculated does not match"),
    ],
    ids=["no-key-value-pairs", "a-token-not-a-signature", "four-element-scope", "signature-not-64-hex-digits"],
)
def test_a_garbled_signature_is_refused_with_a_403_in_aws_words(
    gateway: LocalGateway, engine: LocalEngine, garble: tuple[str, str], message: str
) -> None:
    # Given a valid event, signed, then its Authorization header garbled
    event = {**CREATED, "fixture_id": "E2E-HOSTILE-UNSIGNED"}

    # When it is posted
    status, answer = _post(gateway, json.dumps(event).encode(), garble=garble)

    # Then API Gateway's IAM check refuses it before anything runs
    assert status == 403 and message in answer["message"], answer
    assert not _executions_named(engine, "feed-E2E-HOSTILE-UNSIGNED")


def _executions_named(engine: LocalEngine, prefix: str) -> list[str]:
    pages = engine.client("stepfunctions").get_paginator("list_executions")
    return [
        execution["name"]
        for page in pages.paginate(stateMachineArn=engine.feed_state_machine_arn)
        for execution in page["executions"]
        if execution["name"].startswith(prefix)
    ]


def test_an_event_for_an_unknown_fixture_is_accepted_then_quarantined_with_its_reason(
    gateway: LocalGateway, engine: LocalEngine
) -> None:
    # Given a well-formed event for a fixture nobody created (the API cannot know: it reads no state)
    event = {**GOAL, "fixture_id": "E2E-HOSTILE-NOBODY", "sequence": 5}

    # When it is posted
    status, answer = _post(gateway, json.dumps(event).encode())
    engine.drain()

    # Then the API accepts it (202) and the workflow quarantines it as UnknownFixture: kept, with the reason
    assert status == 202, answer
    (message,) = queue_bodies_for(engine, "QuarantinedEvents", "E2E-HOSTILE-NOBODY")
    assert message["error"] == "UnknownFixture" and "E2E-HOSTILE-NOBODY" in message["cause"]
    assert message["event"] == event


def _hostile_events() -> st.SearchStrategy[Any]:
    """Events as a replay or an operator could hand the workflow directly, bypassing the API's schema."""
    valid = {**GOAL, "fixture_id": "E2E-HOSTILE-DIRECT"}
    fields = [*ENVELOPE, "team", "minute"]
    return st.one_of(
        hostile.wrong_type_bodies(valid, fields).map(lambda case: case[1]),
        hostile.missing_field_bodies(valid, fields).map(lambda case: case[1]),
        st.builds(lambda text: {**valid, "fixture_id": text}, hostile.injection_text(min_size=0, max_size=300)),
        st.builds(lambda text: {**valid, "team": text}, hostile.injection_text()),
        st.builds(lambda n: {**valid, "sequence": n}, st.one_of(st.integers(), st.floats(allow_nan=False))),
        hostile.JSON_VALUES,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=_hostile_events())
def test_the_workflow_never_crashes_on_hostile_events(engine: LocalEngine, event: Any) -> None:
    # When a hostile event is run through the workflow directly
    outcome = engine.run(event)

    # Then the execution ended in one of the workflow's designed final states (a quarantine at worst)
    assert outcome.final_state in OUTCOME_BY_FINAL_STATE, (outcome.final_state, outcome.reason, event)
    if outcome.kind == "quarantined":
        assert outcome.reason and not outcome.reason.startswith("States.Runtime"), outcome.reason
