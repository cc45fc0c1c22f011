"""IAM's evaluation and the Service Authorization Reference, as the local engine applies them (no AWS, no sockets)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from local_engine.iam_enforcement import IamEnforcement, Role, Statement, arn_matches

ACCOUNT, REGION = "123456789012", "eu-west-1"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Fixtures"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:price"


def service(name: str) -> Any:
    return botocore.session.get_session().get_service_model(name)


def allow(actions: str | tuple[str, ...], *resources: str, effect: str = "Allow") -> Statement:
    return Statement(effect, (actions,) if isinstance(actions, str) else actions, (), resources, (), "test")


def role(*statements: Statement) -> Role:
    name = "TradingEngine-dev-Feed-PricingRoleABC"
    return Role("PricingRoleABC", "TradingEngine-dev-Feed", name, f"arn:aws:iam::{ACCOUNT}:role/{name}", statements)


def enforcement_for(granted: Role) -> IamEnforcement:
    return IamEnforcement({granted.arn: granted}, {"price": granted.arn}, {}, ACCOUNT, REGION)


@pytest.mark.parametrize(
    ("service_name", "operation", "params", "expected"),
    [
        ("dynamodb", "UpdateItem", {"TableName": "Fixtures"}, [("dynamodb:UpdateItem", TABLE)]),
        (
            "dynamodb",
            "Query",
            {"TableName": "Fixtures", "IndexName": "by-kick-off"},
            [("dynamodb:Query", f"{TABLE}/index/by-kick-off")],
        ),
        ("dynamodb", "Query", {"TableName": "Fixtures"}, [("dynamodb:Query", TABLE)]),
        (
            "lambda",
            "Invoke",
            {"FunctionName": f"{FUNCTION}:live"},
            [("lambda:InvokeFunction", f"{FUNCTION}:live")],
        ),
        (
            "sns",
            "Publish",
            {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:prices"},
            [("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:prices")],
        ),
        (
            "sqs",
            "SendMessage",
            {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/quarantine"},
            [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:quarantine")],
        ),
        (
            "iot-data",
            "Publish",
            {"topic": "trading/v1/fixtures/F1/prices", "retain": True},
            [
                ("iot:Publish", f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/trading/v1/fixtures/F1/prices"),
                ("iot:RetainPublish", f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/trading/v1/fixtures/F1/prices"),
            ],
        ),
        ("iot", "DescribeEndpoint", {"endpointType": "iot:Data-ATS"}, [("iot:DescribeEndpoint", "*")]),
        ("cognito-identity", "GetId", {"IdentityPoolId": "eu-west-1:x"}, []),
    ],
)
def test_a_call_needs_the_action_and_resource_aws_authorizes(
    service_name: str, operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    # Given the enforcement of an app
    enforcement = enforcement_for(role())

    # When the requirements of one call are derived from the Service Authorization Reference
    needed = enforcement.requirements(service(service_name), operation, params)

    # Then they are IAM's action names on the ARNs IAM evaluates (nothing for a call that takes no credentials)
    assert needed == expected


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        (FUNCTION, f"{FUNCTION}:live", False),  # an unqualified grant does not cover an alias
        (f"{FUNCTION}:*", f"{FUNCTION}:live", True),
        (f"{FUNCTION}:live", f"{FUNCTION}:live", True),
        (
            f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/trading/v1/fixtures/*",
            f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/a",
            False,
        ),
        (
            f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/trading/v1/fixtures/*",
            f"arn:aws:iot:{REGION}:{ACCOUNT}:topic/trading/v1/fixtures/F1/prices",
            True,
        ),
        (f"arn:aws:dynamodb:*:{ACCOUNT}:table/Fixtures", TABLE, True),
        (f"arn:aws:dynamodb:*:{ACCOUNT}:table/Fixtures", f"{TABLE}/index/by-kick-off", False),
        (f"arn:aws:iot:{REGION}:{ACCOUNT}:policy/subscriber", "*", False),  # AttachPolicy takes only *
        ("*", "*", True),
    ],
)
def test_resources_match_as_iam_matches_arns(pattern: str, arn: str, matches: bool) -> None:
    # Given a grant's resource pattern and a requested ARN
    # When they are compared
    # Then they match as IAM matches them
    assert arn_matches(pattern, arn) is matches


def test_an_explicit_deny_wins_over_an_allow() -> None:
    # Given a role allowed every DynamoDB action but denied UpdateItem on the table
    granted = role(allow("dynamodb:*", "*"), allow("dynamodb:UpdateItem", TABLE, effect="Deny"))
    enforcement = enforcement_for(granted)

    # When GetItem and UpdateItem are evaluated
    get, update = (
        enforcement.evaluate(granted, action, TABLE) for action in ("dynamodb:GetItem", "dynamodb:UpdateItem")
    )

    # Then GetItem is allowed and UpdateItem explicitly denied
    assert get.allowed and not update.allowed and update.explicit_deny


def test_actions_match_case_insensitively_with_wildcards() -> None:
    # Given a role allowed dynamodb:get* (any case)
    granted = role(allow("DynamoDB:Get*", TABLE))

    # When two actions are evaluated
    # Then GetItem matches the wildcard and PutItem does not
    assert enforcement_for(granted).evaluate(granted, "dynamodb:GetItem", TABLE).allowed
    assert not enforcement_for(granted).evaluate(granted, "dynamodb:PutItem", TABLE).allowed


def test_a_denied_call_raises_the_service_error_naming_role_and_action() -> None:
    # Given a function whose role may read the table but not write it
    granted = role(allow("dynamodb:GetItem", TABLE))
    enforcement = enforcement_for(granted)
    client = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION).client(
        "dynamodb"
    )

    # When its handler updates an item (authorized before anything is sent)
    with (
        enforcement.acting_as_function("price", "lambdas.handlers.price.handler"),
        pytest.raises(ClientError) as raised,
    ):
        enforcement.authorize_call(client, "UpdateItem", {"TableName": "Fixtures", "Key": {}})

    # Then DynamoDB's AccessDeniedException names the assumed role, the action and the table, as AWS does
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{granted.name}/price is not authorized to perform: "
        f"dynamodb:UpdateItem on resource: {TABLE} "
        "because no identity-based policy allows the dynamodb:UpdateItem action"
    )
    assert [d.action for d in enforcement.denials] == ["dynamodb:UpdateItem"]


def test_a_call_made_outside_any_principal_is_not_authorized() -> None:
    # Given an enforcement and no function or workflow running (the engine itself, a test, the gateway)
    enforcement = enforcement_for(role())
    client = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION).client(
        "dynamodb"
    )

    # When a call is authorized
    enforcement.authorize_call(client, "UpdateItem", {"TableName": "Fixtures"})

    # Then nothing is denied or recorded
    assert enforcement.denials == [] and not enforcement.allowed


def test_sns_and_sqs_answer_with_their_own_access_denied_codes() -> None:
    # Given a role with no grants at all
    enforcement = enforcement_for(role())
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    calls = [
        ("sns", "Publish", {"TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:prices", "Message": "m"}),
        ("sqs", "SendMessage", {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q", "MessageBody": "m"}),
        ("iot-data", "Publish", {"topic": "t"}),
    ]

    # When it publishes and sends
    codes = []
    for service_name, operation, params in calls:
        with enforcement.acting_as_function("price", "h"), pytest.raises(ClientError) as raised:
            enforcement.authorize_call(session.client(service_name), operation, params)
        codes.append(raised.value.response["Error"]["Code"])

    # Then each service refuses with its own code
    assert codes == ["AuthorizationError", "AccessDenied", "ForbiddenException"]
