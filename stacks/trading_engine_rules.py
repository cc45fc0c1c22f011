"""The project's own cdk-nag rule pack (``TradingEngine``), run on every synth beside AwsSolutions and Serverless.

Each rule states one property of docs/threat-model.md, so a construct that breaks it fails synth:

- ``TradingEngine-PCI1``: nothing reads from self-managed Kafka (an event source mapping or an EventBridge pipe
  would pull from the estate's brokers: AWS connecting in). Events are pushed in through the ingest API.
- ``TradingEngine-PCI2``: no private network path to the estate: no VPN, customer gateway, Direct Connect,
  VPC or transit gateway peering, client VPN.
- ``TradingEngine-PCI3``: nothing in AWS calls out to an endpoint (SNS HTTP/HTTPS subscriptions, EventBridge
  API destinations and connections). Results leave only through queues that on-prem polls.
- ``TradingEngine-SFN1``: every state machine logs, to a log group named under ``/aws/vendedlogs/states/``
  (the prefix whose resource policy size limits Step Functions avoids; the operators' runbooks look there).
- ``TradingEngine-IOT1``: IoT policies allow publishing nothing, and subscribe/receive only under the price
  topic prefix ``trading/v1/fixtures/``.
- ``TradingEngine-IAM1``: no Allow statement grants ``*`` or ``service:*`` actions, or uses NotAction. The one
  exemption is a KMS key policy's statement for the account root: CDK's default, which hands the key's access
  to IAM (where every grant is scoped); without it a key cannot be administered.
- ``TradingEngine-API1``: every API Gateway method and route is authenticated (IAM, Cognito or a custom
  authorizer). A CORS preflight (OPTIONS answered by a MOCK integration) is exempt: browsers send it unsigned.
- ``TradingEngine-ENC1``: encryption at rest on every DynamoDB table, SQS queue and SNS topic, stated in the
  template (SSE enabled; a KMS key or SQS-managed encryption; a KMS key for topics).

Rules read a resource's properties as CloudFormation renders them (``_render_properties``), resolved within
its stack; a value that cannot be resolved makes cdk-nag report the rule as failed, never silently passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, cast

import jsii
from aws_cdk import CfnResource, Stack
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance

PACK_NAME = "TradingEngine"
PRICE_TOPIC_PREFIX = "trading/v1/fixtures/"
STATE_MACHINE_LOG_PREFIX = "/aws/vendedlogs/states/"
PRIVATE_CONNECTIVITY_TYPES = frozenset(
    {
        "AWS::EC2::VPNConnection",
        "AWS::EC2::VPNConnectionRoute",
        "AWS::EC2::VPNGateway",
        "AWS::EC2::VPNGatewayRoutePropagation",
        "AWS::EC2::CustomerGateway",
        "AWS::EC2::VPCPeeringConnection",
        "AWS::EC2::TransitGatewayPeeringAttachment",
        "AWS::EC2::TransitGatewayConnect",
        "AWS::EC2::ClientVpnEndpoint",
    }
)
OUTBOUND_CALL_TYPES = frozenset({"AWS::Events::ApiDestination", "AWS::Events::Connection"})
IOT_TOPIC_ACTIONS = frozenset({"iot:publish", "iot:retainpublish", "iot:subscribe", "iot:receive"})

RuleCheck = Callable[[str, dict[str, Any], CfnResource], bool]  # type, properties, node -> compliant


@jsii.implements(IApplyRule)
class _Rule:
    """One rule applied to one resource, in the shape cdk-nag's applyRule calls back into."""

    def __init__(self, suffix: str, info: str, explanation: str, check: RuleCheck, node: CfnResource) -> None:
        self._suffix, self._info, self._explanation, self._check, self._node = suffix, info, explanation, check, node

    @property
    def rule_suffix_override(self) -> str:
        return self._suffix

    @property
    def info(self) -> str:
        return self._info

    @property
    def explanation(self) -> str:
        return self._explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def node(self) -> CfnResource:
        return self._node

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        properties = _properties(node)
        compliant = self._check(node.cfn_resource_type, properties, node)
        return NagRuleCompliance.COMPLIANT if compliant else NagRuleCompliance.NON_COMPLIANT


def _properties(node: CfnResource) -> dict[str, Any]:
    stack = Stack.of(node)
    # Resolved first (lazy values cross jsii badly unresolved), then rendered as CloudFormation names them.
    resolved = stack.resolve(node._cfn_properties)  # noqa: SLF001 - the resource's own properties
    return stack.resolve(node._render_properties(resolved)) or {}  # noqa: SLF001


# -- the rules ------------------------------------------------------------------------------------------


def no_self_managed_kafka_reader(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    if resource_type == "AWS::Lambda::EventSourceMapping":
        return "SelfManagedEventSource" not in properties and "SelfManagedKafkaEventSourceConfig" not in properties
    if resource_type == "AWS::Pipes::Pipe":
        return "SelfManagedKafkaParameters" not in (properties.get("SourceParameters") or {})
    return True


def no_private_connectivity(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    return resource_type not in PRIVATE_CONNECTIVITY_TYPES and not resource_type.startswith("AWS::DirectConnect::")


def no_outbound_calls(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    if resource_type in OUTBOUND_CALL_TYPES:
        return False
    if resource_type == "AWS::SNS::Subscription":
        return str(properties.get("Protocol", "")).lower() not in {"http", "https"}
    if resource_type == "AWS::SNS::Topic":
        return all(
            str(s.get("Protocol", "")).lower() not in {"http", "https"} for s in properties.get("Subscription") or []
        )
    return True


def state_machine_logs_under_vended_prefix(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    if resource_type != "AWS::StepFunctions::StateMachine":
        return True
    destinations = (properties.get("LoggingConfiguration") or {}).get("Destinations") or []
    if not destinations:
        return False
    for destination in destinations:
        arn = (destination.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
        name = _log_group_name(arn, node)
        if name is None or not name.startswith(STATE_MACHINE_LOG_PREFIX):
            return False
    return True


def _log_group_name(arn: Any, node: CfnResource) -> str | None:
    """The log group's name from its ARN: a literal ARN, or a GetAtt of a log group in the same stack."""
    if isinstance(arn, str):
        return arn.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in arn else None
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        logical_id = arn["Fn::GetAtt"][0]
        for resource in _resources(Stack.of(node)):
            if (
                resource.cfn_resource_type == "AWS::Logs::LogGroup"
                and Stack.of(node).resolve(resource.logical_id) == logical_id
            ):
                name = _properties(resource).get("LogGroupName")
                return name if isinstance(name, str) else None
    return None


def iot_policies_on_price_topics_only(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    if resource_type != "AWS::IoT::Policy":
        return True
    for statement in _statements(properties.get("PolicyDocument")):
        if statement.get("Effect") != "Allow":
            continue
        actions = {a.lower() for a in _as_list(statement.get("Action"))}
        if "NotAction" in statement or any(a in {"*", "iot:*"} for a in actions):
            return False
        if actions & {"iot:publish", "iot:retainpublish"}:
            return False  # browsers only read prices
        if actions & IOT_TOPIC_ACTIONS:
            for resource in _as_list(statement.get("Resource")):
                text = _flatten(resource)
                kind = "topicfilter/" if "iot:subscribe" in actions else "topic/"
                if f":{kind}{PRICE_TOPIC_PREFIX}" not in text:
                    return False
    return True


def no_wildcard_actions(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    for document, is_key_policy in _policy_documents(resource_type, properties):
        for statement in _statements(document):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                return False
            wildcard = any(a == "*" or a.endswith(":*") for a in _as_list(statement.get("Action")))
            if wildcard and not (is_key_policy and _is_account_root(statement.get("Principal"))):
                return False
    return True


def every_route_authenticated(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    if resource_type == "AWS::ApiGateway::Method":
        authorization = str(properties.get("AuthorizationType", "NONE")).upper()
        preflight = (
            properties.get("HttpMethod") == "OPTIONS" and (properties.get("Integration") or {}).get("Type") == "MOCK"
        )
        return authorization in {"AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM"} or preflight
    if resource_type == "AWS::ApiGatewayV2::Route":
        authorization = str(properties.get("AuthorizationType", "NONE")).upper()
        return authorization in {"AWS_IAM", "JWT", "CUSTOM"} or str(properties.get("RouteKey", "")).startswith(
            "OPTIONS "
        )
    return True


def encrypted_at_rest(resource_type: str, properties: dict[str, Any], node: CfnResource) -> bool:
    if resource_type in {"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"}:
        return (properties.get("SSESpecification") or {}).get("SSEEnabled") is True
    if resource_type == "AWS::SQS::Queue":
        return bool(properties.get("KmsMasterKeyId")) or properties.get("SqsManagedSseEnabled") is True
    if resource_type == "AWS::SNS::Topic":
        return bool(properties.get("KmsMasterKeyId"))
    return True


RULES: tuple[tuple[str, str, str, RuleCheck], ...] = (
    (
        "PCI1",
        "A Lambda event source mapping or EventBridge pipe reads from self-managed Kafka.",
        "The PCI boundary is push-only: the estate pushes feed events to the ingest API; AWS never connects to "
        "the estate's Kafka brokers (docs/threat-model.md).",
        no_self_managed_kafka_reader,
    ),
    (
        "PCI2",
        "A VPN, customer gateway, Direct Connect, peering or client VPN resource is defined.",
        "No private network path may join AWS and the on-prem estate: the PCI boundary is crossed only by "
        "signed HTTPS calls from the estate and by queues it polls.",
        no_private_connectivity,
    ),
    (
        "PCI3",
        "A resource calls out to an HTTP endpoint (SNS HTTP/HTTPS subscription, API destination or connection).",
        "Nothing in AWS calls into the estate: results leave only through SQS queues that on-prem services poll.",
        no_outbound_calls,
    ),
    (
        "SFN1",
        "The state machine does not log to a log group under /aws/vendedlogs/states/.",
        "Step Functions logs belong under the vended-logs prefix (no per-group resource policy growth), where "
        "operators find every execution by name.",
        state_machine_logs_under_vended_prefix,
    ),
    (
        "IOT1",
        "An IoT policy allows publishing, a wildcard action, or topics outside trading/v1/fixtures/.",
        "Browsers may only subscribe to and receive the price topics; anything wider would let a trader's "
        "credentials read or write other MQTT topics.",
        iot_policies_on_price_topics_only,
    ),
    (
        "IAM1",
        "A policy allows every action ('*' or 'service:*') or uses NotAction in an Allow.",
        "Least privilege: every permission names its actions (grant_* methods). The account-root statement of "
        "a KMS key policy (CDK's default delegation to IAM) is the only exemption.",
        no_wildcard_actions,
    ),
    (
        "API1",
        "An API Gateway method or route is not authenticated.",
        "Every API call is signed (IAM) or carries a Cognito token; only a CORS preflight answered by a MOCK "
        "integration may be open.",
        every_route_authenticated,
    ),
    (
        "ENC1",
        "A DynamoDB table, SQS queue or SNS topic does not state encryption at rest.",
        "Fixture state, books and quarantined events are business data: every store is encrypted at rest.",
        encrypted_at_rest,
    ),
)


class TradingEngineChecks(NagPack):
    """The TradingEngine rule pack: ``Validations.of(app).add_plugins(TradingEngineChecks(app))``."""

    def __init__(self, scope: Any = None) -> None:
        super().__init__(scope)
        self._pack_name = PACK_NAME

    @property
    def name(self) -> str:
        return PACK_NAME

    def _check_resource(self, node: CfnResource) -> None:
        for suffix, info, explanation, check in RULES:
            # _Rule implements IApplyRule through jsii (read-only properties; mypy expects settable ones)
            self._apply_rule(cast(IApplyRule, _Rule(suffix, info, explanation, check, node)))


# -- helpers -------------------------------------------------------------------------------------------


def _resources(stack: Stack) -> Iterator[CfnResource]:
    for child in stack.node.find_all():
        if CfnResource.is_cfn_resource(child):
            yield child  # type: ignore[misc]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def _policy_documents(resource_type: str, properties: dict[str, Any]) -> list[tuple[Any, bool]]:
    """Every policy document a resource holds, and whether it is a KMS key policy."""
    if resource_type in {
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::IoT::Policy",
    }:
        return [(properties.get("PolicyDocument"), False)]
    if resource_type in {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}:
        return [(policy.get("PolicyDocument"), False) for policy in properties.get("Policies") or []]
    if resource_type == "AWS::KMS::Key":
        return [(properties.get("KeyPolicy"), True)]
    return []


def _is_account_root(principal: Any) -> bool:
    if not isinstance(principal, dict):
        return False
    return all(_flatten(p).endswith(":root") for p in _as_list(principal.get("AWS"))) and "AWS" in principal


def _flatten(value: Any) -> str:
    """A resolved value as text: a Fn::Join's parts joined, anything else its JSON-ish form."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_flatten(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return str(value)
