"""The local gateway gives up on an integration after API Gateway's 29 s, with API Gateway's 504."""

from __future__ import annotations

import inspect
import threading
import time
from typing import Any

import pytest

from local_engine import gateway as gateway_module
from local_engine.engine import LocalEngine
from local_engine.gateway import INTEGRATION_TIMEOUT_SECONDS, LocalGateway
from tests.e2e.conftest import match_events
from tests.e2e.test_local_gateway import _post

pytestmark = pytest.mark.slow


def test_the_integration_timeout_is_api_gateways_29_seconds_by_default() -> None:
    # Given the gateway's constructor
    default = inspect.signature(LocalGateway).parameters["integration_timeout_seconds"].default

    # Then it waits as long as API Gateway's default maximum integration timeout, and no longer
    assert default == INTEGRATION_TIMEOUT_SECONDS == 29.0
    assert gateway_module.INTEGRATION_TIMEOUT_RESPONSE == '{"message": "Endpoint request timed out"}'


def test_a_workflow_slower_than_the_integration_timeout_is_answered_504_and_runs_on(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a synchronous execution that takes longer than the gateway's (shortened) integration timeout
    released = threading.Event()
    finished: list[dict[str, Any]] = []
    run_sync_execution = engine.run_sync_execution

    def slow_execution(*args: Any) -> dict[str, Any]:
        released.wait(10)
        finished.append(run_sync_execution(*args))
        return finished[-1]

    monkeypatch.setattr(engine, "run_sync_execution", slow_execution)
    event = match_events("E2E-GATEWAY-TIMEOUT")[0]

    # When the forwarder posts a feed event
    with LocalGateway(engine, integration_timeout_seconds=0.5) as gateway:
        started = time.monotonic()
        status, body = _post(f"{gateway.url}/v1/feed-events", _json(event))
        waited = time.monotonic() - started
        released.set()

    # Then the caller gets API Gateway's 504 once the timeout has passed, not the workflow's answer...
    assert status == 504 and body == {"message": "Endpoint request timed out"}
    assert 0.5 <= waited < 5
    # ...while the execution goes on to its end, as in AWS
    deadline = time.monotonic() + 30
    while not finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert finished and finished[0]["status"] == "SUCCEEDED"


def test_a_workflow_inside_the_integration_timeout_is_answered_as_before(engine: LocalEngine) -> None:
    # Given the gateway with a timeout a normal execution stays well inside
    event = match_events("E2E-GATEWAY-IN-TIME")[0]

    # When the forwarder posts a feed event
    with LocalGateway(engine, integration_timeout_seconds=20) as gateway:
        status, body = _post(f"{gateway.url}/v1/feed-events", _json(event))

    # Then the workflow's own answer comes back
    assert status == 202 and body["accepted"] is True and body["outcome"] == "processed"


def _json(event: dict[str, Any]) -> bytes:
    import json

    return json.dumps(event).encode()
