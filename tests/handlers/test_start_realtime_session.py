"""The realtime sign-in: the price-feed IoT policy is attached to the caller's own Cognito identity.

moto stands in for Cognito Identity and IoT: its GetId does not check the ID token (no real user pool here),
so this proves the handler's wiring (the identity comes from GetId on the caller's token, the policy is
the configured one), not Cognito's token validation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdas.handlers import start_realtime_session

POLICY = "PriceFeedSubscriberPolicy"


@pytest.fixture
def environment(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    pool = boto3.client("cognito-identity").create_identity_pool(
        IdentityPoolName="traders", AllowUnauthenticatedIdentities=False
    )
    boto3.client("iot").create_policy(
        policyName=POLICY, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    values = {
        "IDENTITY_POOL_ID": pool["IdentityPoolId"],
        "USER_POOL_PROVIDER_NAME": "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_traders",
        "PRICE_FEED_IOT_POLICY_NAME": POLICY,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    start_realtime_session.reset_cached_collaborators()
    yield values
    start_realtime_session.reset_cached_collaborators()


def _event(authorization: str | None) -> dict[str, Any]:
    headers = {"Authorization": authorization} if authorization else {}
    return {"headers": headers, "requestContext": {"requestId": "req-1"}, "body": None}


def test_the_policy_is_attached_to_the_callers_identity(environment: dict[str, str], lambda_context: Any) -> None:
    answer = start_realtime_session.handler(_event("eyJ.id.token"), lambda_context)

    assert answer["statusCode"] == 200
    identity_id = json.loads(answer["body"])["identityId"]
    assert identity_id.startswith("eu-west-1:")
    targets = boto3.client("iot").list_targets_for_policy(policyName=POLICY)["targets"]
    assert targets == [identity_id]


def test_without_a_token_nothing_is_attached(environment: dict[str, str], lambda_context: Any) -> None:
    answer = start_realtime_session.handler(_event(None), lambda_context)

    assert answer["statusCode"] == 401 and "authorization" in json.loads(answer["body"])["message"]
    assert boto3.client("iot").list_targets_for_policy(policyName=POLICY)["targets"] == []


def test_a_missing_setting_fails_naming_it(aws: None, lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDENTITY_POOL_ID", raising=False)
    start_realtime_session.reset_cached_collaborators()

    with pytest.raises(ValueError, match="IDENTITY_POOL_ID"):
        start_realtime_session.handler(_event("token"), lambda_context)
