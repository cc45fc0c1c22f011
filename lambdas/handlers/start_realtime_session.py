"""``POST /realtime/session``: let a signed-in trader's browser subscribe to the price topics in IoT Core.

IoT Core authorizes an authenticated Cognito identity by BOTH the identity pool role's IAM policy and an IoT
policy attached to that identity id. The identity id exists only once the browser has exchanged its ID token,
so the attachment happens here, at sign-in: the identity is derived from the caller's own token (GetId), never
taken from the request, so a trader can only ever attach the read-only price-feed policy to themself.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.models.env import RealtimeSessionEnv
from lambdas.observability import logger, tracer


@cache
def _environment() -> RealtimeSessionEnv:
    return RealtimeSessionEnv.model_validate(dict(os.environ))


@cache
def _clients() -> tuple[Any, Any]:
    return boto3.client("cognito-identity"), boto3.client("iot")


def reset_cached_collaborators() -> None:
    _environment.cache_clear()
    _clients.cache_clear()


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    id_token = headers.get("authorization", "")
    if not id_token:  # the Cognito authorizer already refused such a call; kept for any other route to it
        return _answer(401, {"message": "authorization: a Cognito ID token is required"})
    environment = _environment()
    cognito_identity, iot = _clients()
    identity_id = cognito_identity.get_id(
        IdentityPoolId=environment.IDENTITY_POOL_ID,
        Logins={environment.USER_POOL_PROVIDER_NAME: id_token.removeprefix("Bearer ")},
    )["IdentityId"]
    iot.attach_policy(policyName=environment.PRICE_FEED_IOT_POLICY_NAME, target=identity_id)
    logger.info("price feed policy attached", identity_id=identity_id)
    return _answer(200, {"identityId": identity_id})


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
