"""The project's cdk-nag pack (stacks/trading_engine_rules.py): each rule fires on a bad construct and passes a
good one, and the real app (dev and prod) passes every rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aws_cdk import App, CfnResource, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.realtime_access import price_feed_statements
from stacks.trading_engine_rules import RULES, TradingEngineChecks
from tests.synth import SynthesizedApp


def _findings(build: Callable[[Stack], object]) -> dict[str, list[str]]:
    """Rule id -> paths of the constructs it fired on, for a fresh stack holding what ``build`` adds."""
    stack = Stack(App(), "Probe")
    build(stack)
    report = TradingEngineChecks().validate_scope(stack)
    return {
        violation.rule_name: [resource.construct_path for resource in violation.violating_resources]
        for violation in report.violations
    }


def _state_machine(log_group_name: str | None) -> Callable[[Stack], object]:
    def build(stack: Stack) -> object:
        logging = None
        if log_group_name is not None:
            group = logs.LogGroup(stack, "Logs", log_group_name=log_group_name)
            logging = sfn.LogOptions(destination=group, level=sfn.LogLevel.ALL)
        return sfn.StateMachine(
            stack,
            "Machine",
            definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "Nothing")),
            state_machine_type=sfn.StateMachineType.EXPRESS,
            logs=logging,
        )

    return build


def _api(authorization: apigateway.AuthorizationType, method: str = "POST") -> Callable[[Stack], object]:
    def build(stack: Stack) -> object:
        api = apigateway.RestApi(stack, "Api", deploy=False)
        integration = apigateway.MockIntegration() if method == "OPTIONS" else apigateway.HttpIntegration("https://x")
        return api.root.add_method(method, integration, authorization_type=authorization)

    return build


def _iot_policy(statements: Callable[[Stack], list[iam.PolicyStatement]]) -> Callable[[Stack], object]:
    def build(stack: Stack) -> object:
        document = iam.PolicyDocument(statements=statements(stack))
        return iot.CfnPolicy(stack, "Policy", policy_document=document)

    return build


def _iam_policy(**statement: object) -> Callable[[Stack], object]:
    def build(stack: Stack) -> object:
        role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        return iam.Policy(stack, "Policy", statements=[iam.PolicyStatement(**statement)], roles=[role])  # type: ignore[arg-type]

    return build


def _kafka_mapping(stack: Stack) -> object:
    return lambda_.CfnEventSourceMapping(
        stack,
        "FromEstateKafka",
        function_name="consumer",
        topics=["feed"],
        self_managed_event_source=lambda_.CfnEventSourceMapping.SelfManagedEventSourceProperty(
            endpoints=lambda_.CfnEventSourceMapping.EndpointsProperty(kafka_bootstrap_servers=["10.1.2.3:9092"])
        ),
    )


def _kafka_pipe(stack: Stack) -> object:
    return pipes.CfnPipe(
        stack,
        "FromEstatePipe",
        role_arn="arn:aws:iam::123456789012:role/pipe",
        source="smk://10.1.2.3:9092",
        target="arn:aws:states:eu-west-1:123456789012:stateMachine:feed",
        source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
            self_managed_kafka_parameters=pipes.CfnPipe.PipeSourceSelfManagedKafkaParametersProperty(topic_name="feed")
        ),
    )


def _queue_mapping(stack: Stack) -> object:
    return lambda_.CfnEventSourceMapping(
        stack, "FromQueue", function_name="consumer", event_source_arn="arn:aws:sqs:eu-west-1:123456789012:q"
    )


CASES = [
    # rule, bad constructs (each must fire), good constructs (none may fire)
    ("PCI1", [_kafka_mapping, _kafka_pipe], [_queue_mapping]),
    (
        "PCI2",
        [
            lambda s: ec2.CfnCustomerGateway(s, "Estate", bgp_asn=65000, ip_address="203.0.113.1", type="ipsec.1"),
            lambda s: ec2.CfnVPNGateway(s, "Vgw", type="ipsec.1"),
            lambda s: ec2.CfnVPCPeeringConnection(s, "Peer", vpc_id="vpc-1", peer_vpc_id="vpc-2"),
            lambda s: CfnResource(s, "Dx", type="AWS::DirectConnect::Connection", properties={"Bandwidth": "1Gbps"}),
        ],
        [lambda s: sqs.CfnQueue(s, "Queue")],
    ),
    (
        "PCI3",
        [
            lambda s: sns.CfnSubscription(
                s, "CallsEstate", protocol="https", endpoint="https://estate.example", topic_arn="arn:aws:sns:x:1:t"
            ),
            lambda s: events.CfnConnection(
                s,
                "Connection",
                authorization_type="API_KEY",
                auth_parameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}},
            ),
        ],
        [lambda s: sns.CfnSubscription(s, "ToQueue", protocol="sqs", endpoint="arn:aws:sqs:x:1:q", topic_arn="t")],
    ),
    (
        "SFN1",
        [_state_machine("/trading/feed-workflow"), _state_machine(None)],
        [_state_machine("/aws/vendedlogs/states/feed-workflow")],
    ),
    (
        "IOT1",
        [
            _iot_policy(lambda s: [iam.PolicyStatement(actions=["iot:Publish"], resources=["*"])]),
            _iot_policy(
                lambda s: [
                    iam.PolicyStatement(
                        actions=["iot:Subscribe"],
                        resources=[s.format_arn(service="iot", resource="topicfilter", resource_name="trading/*")],
                    )
                ]
            ),
            _iot_policy(lambda s: [iam.PolicyStatement(actions=["iot:*"], resources=["*"])]),
        ],
        [_iot_policy(price_feed_statements)],
    ),
    (
        "IAM1",
        [
            _iam_policy(actions=["s3:*"], resources=["arn:aws:s3:::bucket/*"]),
            _iam_policy(actions=["*"], resources=["*"]),
            _iam_policy(not_actions=["iam:*"], resources=["*"]),
            lambda s: kms.Key(
                s,
                "KeyOpenToARole",
                policy=iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["kms:*"],
                            resources=["*"],
                            principals=[iam.ArnPrincipal("arn:aws:iam::123456789012:role/ops")],
                        )
                    ]
                ),
            ),
        ],
        [
            _iam_policy(actions=["dynamodb:GetItem"], resources=["arn:aws:dynamodb:x:1:table/t"]),
            _iam_policy(effect=iam.Effect.DENY, actions=["sqs:*"], resources=["*"]),
            lambda s: kms.Key(s, "DefaultKey"),  # the account-root delegation: exempt
        ],
    ),
    (
        "API1",
        [_api(apigateway.AuthorizationType.NONE), _api(apigateway.AuthorizationType.NONE, "GET")],
        [_api(apigateway.AuthorizationType.IAM), _api(apigateway.AuthorizationType.NONE, "OPTIONS")],
    ),
    (
        "ENC1",
        [
            lambda s: dynamodb.CfnTable(
                s,
                "PlainTable",
                key_schema=[dynamodb.CfnTable.KeySchemaProperty(attribute_name="id", key_type="HASH")],
                attribute_definitions=[
                    dynamodb.CfnTable.AttributeDefinitionProperty(attribute_name="id", attribute_type="S")
                ],
            ),
            lambda s: sqs.Queue(s, "PlainQueue", encryption=sqs.QueueEncryption.UNENCRYPTED),
            lambda s: sns.Topic(s, "PlainTopic"),
        ],
        [
            lambda s: dynamodb.Table(
                s,
                "Table",
                partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
            ),
            lambda s: sqs.Queue(s, "Queue", encryption=sqs.QueueEncryption.SQS_MANAGED),
            lambda s: sns.Topic(s, "Topic", master_key=kms.Key(s, "TopicKey")),
        ],
    ),
]


def test_every_rule_has_a_case() -> None:
    assert sorted(rule for rule, *_ in CASES) == sorted(suffix for suffix, *_ in RULES)


@pytest.mark.parametrize(("rule", "bad", "good"), CASES, ids=[case[0] for case in CASES])
def test_the_rule_fires_on_each_bad_construct_and_passes_the_good(
    rule: str, bad: list[Callable[[Stack], object]], good: list[Callable[[Stack], object]]
) -> None:
    rule_id = f"TradingEngine-{rule}"
    for build in bad:
        # Given a stack holding one bad construct, then the rule fires on it
        findings = _findings(build)
        assert rule_id in findings, (rule_id, findings)
    for build in good:
        # Given a stack holding a good one, then the rule stays quiet
        assert rule_id not in _findings(build)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_real_app_passes_every_rule(stage: str, dev_app: SynthesizedApp, prod_app: SynthesizedApp) -> None:
    # Given each stack of the synthesized app
    app = dev_app if stage == "dev" else prod_app

    # When the pack checks it directly (synth ran it as a plugin already: a finding would have failed it)
    findings = {
        stack.stack_name: [v.rule_name for v in TradingEngineChecks().validate_scope(stack).violations]
        for stack in app.engine.stacks
    }

    # Then no rule fires anywhere
    assert findings == {stack.stack_name: [] for stack in app.engine.stacks}
