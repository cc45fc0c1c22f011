"""Hostile input against the ingest API (served as deployed by the local gateway) and the feed workflow itself.

Fuzzed with hypothesis (tests/hostile.py): wrong types, missing fields, bodies over 256 KB, injection text,
arbitrary JSON. The API answers each with a clear 4xx or accepts it intact; the workflow, run directly (as a
replay or an operator would), ends every execution in one of its designed final states, never a crash.
"""

from __future__ import annotations

import json
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


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        yield running


def _post(gateway: LocalGateway, body: bytes) -> tuple[int, Any]:
    """POST /v1/feed-events signed as the forwarder signs (SigV4, the engine's fake credentials)."""
    url = f"{gateway.url}/v1/feed-events"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("local-engine", "local-engine"), "execute-api", "eu-west-1").add_auth(request)
    http_request = urllib.request.Request(url, data=body, method="POST", headers=dict(request.prepare().headers))
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
