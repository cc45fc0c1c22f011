"""The ingest API served locally as deployed: IAM auth, schema validation, StartExecution through the template."""

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

from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from tests.e2e.conftest import match_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(engine: LocalEngine) -> Iterator[LocalGateway]:
    with LocalGateway(engine) as running:
        yield running


def _post(url: str, body: bytes, *, signed: bool = True, content_type: str = "application/json") -> tuple[int, Any]:
    """POST as the on-prem forwarder does: SigV4-signed for execute-api (with the engine's fake credentials)."""
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": content_type})
    if signed:
        SigV4Auth(Credentials("local-engine", "local-engine"), "execute-api", "eu-west-1").add_auth(request)
    prepared = request.prepare()
    http_request = urllib.request.Request(url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_routes_come_from_the_synthesized_api(gateway: LocalGateway) -> None:
    # Then the gateway serves exactly the deployed methods, under their stage, with their auth and validation
    assert sorted((r.http_method, r.url_path, r.authorization) for r in gateway.routes) == [
        ("GET", "/v1/fixtures", "COGNITO_USER_POOLS"),
        ("GET", "/v1/fixtures/{fixture_id}", "COGNITO_USER_POOLS"),
        ("GET", "/v1/fixtures/{fixture_id}/prices", "COGNITO_USER_POOLS"),
        ("POST", "/v1/feed-events", "AWS_IAM"),
        ("POST", "/v1/fixtures/{fixture_id}/commands", "COGNITO_USER_POOLS"),
        ("POST", "/v1/realtime/session", "COGNITO_USER_POOLS"),
        ("POST", "/v1/service/fixtures/{fixture_id}/commands", "AWS_IAM"),
    ]
    validated = {r.url_path for r in gateway.routes if r.validator is not None}
    assert validated == {
        "/v1/feed-events",
        "/v1/fixtures/{fixture_id}/commands",
        "/v1/service/fixtures/{fixture_id}/commands",
    }


def test_a_signed_feed_event_starts_the_workflow(gateway: LocalGateway, engine: LocalEngine) -> None:
    # Given a fixture_created event posted as the forwarder posts it
    (create,) = match_events("E2E-GATEWAY")[:1]

    # When it is sent to the ingest endpoint
    status, body = _post(f"{gateway.url}/v1/feed-events", json.dumps(create).encode())
    engine.drain()

    # Then it is accepted, the execution has the deterministic name, and the fixture exists
    assert status == 202 and body["accepted"] is True
    assert body["execution_arn"].endswith(":feed-E2E-GATEWAY-1")
    item = engine.client("dynamodb").get_item(
        TableName=engine.table_name("Fixtures"), Key={"fixture_id": {"S": "E2E-GATEWAY"}}, ConsistentRead=True
    )
    assert item["Item"]["home_team"] == {"S": create["home_team"]}


def test_an_unsigned_request_is_refused(gateway: LocalGateway) -> None:
    # Given an event sent without SigV4
    (create,) = match_events("E2E-GATEWAY-UNSIGNED")[:1]

    # Then it is refused as API Gateway refuses it, and nothing runs
    status, body = _post(f"{gateway.url}/v1/feed-events", json.dumps(create).encode(), signed=False)
    assert status == 403 and body == {"message": "Missing Authentication Token"}


@pytest.mark.parametrize(
    ("change", "field"),
    [({"sequence": None}, "sequence"), ({"fixture_id": "a/b"}, "fixture_id"), ({"type": "corner"}, "type")],
)
def test_a_bad_body_gets_a_400_naming_the_field(gateway: LocalGateway, change: dict, field: str) -> None:
    # Given an event with one bad envelope field
    (create,) = match_events("E2E-GATEWAY-BAD")[:1]
    bad = {key: value for key, value in {**create, **change}.items() if value is not None}

    # When it is posted
    status, body = _post(f"{gateway.url}/v1/feed-events", json.dumps(bad).encode())

    # Then the gateway response names the field, and the workflow never sees it
    assert status == 400 and body["error"] == "invalid feed event"
    assert field in body["detail"]


def test_only_json_is_accepted(gateway: LocalGateway) -> None:
    # Given a body that is not declared JSON
    status, _ = _post(f"{gateway.url}/v1/feed-events", b"fixture_id=1", content_type="text/plain")

    # Then it is refused (the integration never passes other media types through)
    assert status == 415
