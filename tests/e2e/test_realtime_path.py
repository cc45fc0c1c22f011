"""The realtime path as AWS runs it: the session route's real handler, what a late console gets, topic limits.

The engine's broker is behind the IoT Core front door (local_engine/iot_core.py), so a wildcard subscriber gets
no retained message here either, as in AWS IoT Core.
"""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from local_engine.engine import LocalEngine
from local_engine.gateway import LocalGateway
from tests.e2e.conftest import MqttSubscriber, match_events
from tests.e2e.conftest import call_api as _call

pytestmark = pytest.mark.slow

QUIET_S = 1.0  # how long "nothing arrives" is watched for; a book reaches a local subscriber in tens of ms


@pytest.fixture(scope="module")
def token(gateway: LocalGateway) -> str:
    status, body = _call(gateway, "POST", "/local/sign-in", {"username": "late-trader"})
    assert status == 200
    return str(body["token"])


def test_a_late_console_gets_no_book_over_mqtt_and_loads_the_board_from_the_query_api(
    engine: LocalEngine, gateway: LocalGateway, token: str
) -> None:
    # Given a fixture whose first four books were published before anyone subscribed
    fixture_id = "E2E-LATE-CONSOLE"
    events = match_events(fixture_id)
    for event in events[:4]:
        assert engine.run(event).kind == "applied"

    # When a console subscribes afterwards with its one wildcard filter
    assert engine.broker is not None
    late = MqttSubscriber(engine.broker.port).start()
    try:
        time.sleep(QUIET_S)
        over_mqtt_at_once = late.for_fixture(fixture_id)
        # ...loads the fixture's latest book from the query API, as the console does
        status, detail = _call(gateway, "GET", f"/fixtures/{fixture_id}", token=token)
        # ...and the next feed event is played
        assert engine.run(events[4]).kind == "applied"
        live = late.wait_for(fixture_id, 1)
    finally:
        late.stop()

    # Then MQTT gives it nothing at once (AWS IoT: no retained message to a wildcard filter; the bridge does not
    # retain), the query API gives the latest book, and the next live book is newer by revision
    assert over_mqtt_at_once == []
    assert status == 200 and detail["book"]["sequence"] == 4
    assert [book["sequence"] for book in live] == [5]
    assert live[0]["revision"] > detail["book"]["revision"]
    assert not any(retained for _, body, retained in late.messages if body["fixture_id"] == fixture_id)


def test_the_realtime_session_route_attaches_the_price_feed_policy_to_the_callers_identity(
    engine: LocalEngine, gateway: LocalGateway, token: str
) -> None:
    # Given a signed-in trader, and the IoT policy the engine provisioned from the synthesized template
    assert engine.app is not None
    (policy,) = engine.app.of_type("AWS::IoT::Policy")

    # When the console asks for a realtime session (the real handler behind the synthesized route)
    status, body = _call(gateway, "POST", "/realtime/session", token=token)

    # Then the answer names the caller's Cognito identity, and the price-feed policy is attached to it
    assert status == 200
    targets = engine.client("iot").list_targets_for_policy(policyName=policy.ref)["targets"]
    assert body["identityId"] in targets


def test_the_session_route_refuses_a_caller_without_a_token(gateway: LocalGateway) -> None:
    # When the session route is called without a Cognito token
    status, _ = _call(gateway, "POST", "/realtime/session")

    # Then API Gateway's Cognito authorizer refuses it
    assert status == 401


def test_an_https_publish_to_a_topic_with_more_than_seven_slashes_is_refused(engine: LocalEngine) -> None:
    # Given the iot-data API the bridge publishes through
    iot_data = engine.client("iot-data")

    # When a topic with 7 slashes and one with 8 are published to
    iot_data.publish(topic="trading/v1/fixtures/F/prices/a/b/c", qos=1, payload=b"{}")
    with pytest.raises(ClientError) as refused:
        iot_data.publish(topic="trading/v1/fixtures/F/prices/a/b/c/d", qos=1, payload=b"{}")

    # Then the second is refused as IoT Core refuses it (at most 7 forward slashes in a topic)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "7 forward slashes" in refused.value.response["Error"]["Message"]
