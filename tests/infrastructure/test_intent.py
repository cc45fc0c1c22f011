"""What the architecture promises, asserted on the synthesized templates (beside the snapshots)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from lambdas.adapters.iot_publisher import IotPublisher
from stacks.constants import IOT_PRICE_TOPIC_PREFIX
from tests.synth import SynthesizedApp


def _statements(policy_resource: dict[str, Any]) -> list[dict[str, Any]]:
    document = policy_resource["Properties"].get("PolicyDocument") or {}
    return document.get("Statement", [])


def _flatten(value: Any) -> str:
    """A CloudFormation value (string, Fn::Join, ...) as one string, intrinsic names included."""
    return json.dumps(value, sort_keys=True)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_workflows_are_express_with_full_logging_and_tracing(dev_app: SynthesizedApp) -> None:
    # Given the synthesized state machines: the feed workflow and the trader-command workflow
    machines = dev_app.resources("AWS::StepFunctions::StateMachine")

    # Then each is EXPRESS, logs ALL with execution data, and is traced
    assert sorted(machine_id.split("Workflow")[0] for machine_id in machines) == ["Feed", "TraderCommand"]
    for machine in machines.values():
        props = machine["Properties"]
        assert props["StateMachineType"] == "EXPRESS"
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
        assert props["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("stack_suffix", ["-Feed", "-Trader"])
def test_workflow_log_groups_are_under_vendedlogs_with_retention(dev_app: SynthesizedApp, stack_suffix: str) -> None:
    # Given the log group each workflow logs to
    resources = dev_app.template(stack_suffix)["Resources"]
    (machine,) = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    destination = machine["Properties"]["LoggingConfiguration"]["Destinations"][0]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = resources[log_group_id]

    # Then its name has the /aws/vendedlogs/states/ prefix and it expires
    assert log_group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert log_group["Properties"]["RetentionInDays"] == dev_app.engine.config.log_retention_days


def test_only_the_bridge_lambda_subscribes_to_sns(dev_app: SynthesizedApp) -> None:
    # Given every SNS subscription
    subscriptions = dev_app.resources("AWS::SNS::Subscription")
    lambda_subscriptions = [s for s in subscriptions.values() if s["Properties"]["Protocol"] == "lambda"]

    # Then exactly one Lambda subscribes, and it is the IoT bridge
    assert len(lambda_subscriptions) == 1
    endpoint = _flatten(lambda_subscriptions[0]["Properties"]["Endpoint"])
    assert "IotBridgePublishPricesToIot" in endpoint


def test_no_lambda_publishes_to_sns(dev_app: SynthesizedApp) -> None:
    # Given every IAM policy attached to a Lambda execution role
    functions = dev_app.resources("AWS::Lambda::Function")
    role_ids = {fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()}
    policies = [
        policy
        for policy in dev_app.resources("AWS::IAM::Policy").values()
        if any(role.get("Ref") in role_ids for role in policy["Properties"].get("Roles", []))
    ]

    # Then none of them allows sns:Publish: the old Lambda -> SNS -> Lambda chain is gone
    actions = {action for policy in policies for st in _statements(policy) for action in _as_list(st["Action"])}
    assert policies, "expected the Lambda roles to have policies"
    assert not any(action.startswith("sns:") for action in actions)


def test_state_machine_is_the_only_sns_publisher(dev_app: SynthesizedApp) -> None:
    # Given every policy statement that allows publishing to SNS
    publishers = [
        policy_id
        for policy_id, policy in dev_app.resources("AWS::IAM::Policy").items()
        if any("sns:Publish" in _as_list(st["Action"]) for st in _statements(policy))
    ]

    # Then the only ones are the workflows' roles (a trader's command publishes its new book like a feed event)
    assert sorted(publisher.split("Workflow")[0] for publisher in publishers) == ["Feed", "TraderCommand"]
    assert all("RoleDefaultPolicy" in publisher for publisher in publishers)


def test_every_queue_that_is_not_a_dead_letter_queue_has_one(dev_app: SynthesizedApp) -> None:
    # Given the queues, split into dead-letter queues and the rest
    queues = dev_app.resources("AWS::SQS::Queue")
    dead_letter_targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    # the workflow's quarantine queue and the bridge's failure queue are dead-letter queues by role
    dead_letter_by_role = {qid for qid in queues if "QuarantinedEvents" in qid or "FailedPublications" in qid}

    # Then every other queue redrives to a dead-letter queue
    working_queues = set(queues) - dead_letter_targets - dead_letter_by_role
    assert working_queues, "expected on-prem queues"
    assert all("RedrivePolicy" in queues[qid]["Properties"] for qid in working_queues)


def test_every_queue_is_encrypted_and_tls_only(dev_app: SynthesizedApp) -> None:
    # Given every queue and every queue policy
    queues = dev_app.resources("AWS::SQS::Queue")
    policies = dev_app.resources("AWS::SQS::QueuePolicy")
    tls_enforced = {
        ref["Ref"]
        for policy in policies.values()
        for st in _statements(policy)
        if st.get("Effect") == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for ref in policy["Properties"]["Queues"]
    }

    # Then each uses SQS-managed encryption (SNS can deliver into it) and denies plain HTTP
    assert all(q["Properties"].get("SqsManagedSseEnabled") is True for q in queues.values())
    assert set(queues) <= tls_enforced


def test_price_queues_take_raw_messages_and_settlement_filters_on_the_result(dev_app: SynthesizedApp) -> None:
    # Given the SQS subscriptions of the price topic
    sqs_subscriptions = [
        s["Properties"]
        for s in dev_app.resources("AWS::SNS::Subscription").values()
        if s["Properties"]["Protocol"] == "sqs"
    ]

    # Then both deliver raw messages with a dead-letter queue, and settlement only receives results: the final
    # book and each correction of it
    assert len(sqs_subscriptions) == 2
    assert all(s["RawMessageDelivery"] is True and "RedrivePolicy" in s for s in sqs_subscriptions)
    filters = [s.get("FilterPolicy") for s in sqs_subscriptions]
    assert {"result": ["final", "correction"]} in filters
    assert None in filters


def test_every_api_method_requires_authorization(dev_app: SynthesizedApp) -> None:
    # Given every API Gateway method
    methods = dev_app.resources("AWS::ApiGateway::Method")

    # Then none is open (OPTIONS would be CORS preflight; there is none)
    assert methods
    assert all(m["Properties"]["AuthorizationType"] in {"AWS_IAM", "COGNITO_USER_POOLS"} for m in methods.values())


def test_ingest_starts_the_workflow_directly_with_a_deterministic_name(dev_app: SynthesizedApp) -> None:
    # Given the feed-events POST method
    method = dev_app.template("-Feed")["Resources"][_method_id(dev_app.template("-Feed"), "POST")]
    integration = method["Properties"]["Integration"]

    # Then it is an AWS integration with Step Functions StartSyncExecution (a fixture's events stay in order),
    # no Lambda in between,
    # its body is validated, and the execution name is built from fixture id and sequence
    assert integration["Type"] == "AWS"
    assert "states:action/StartSyncExecution" in _flatten(integration["Uri"])
    template = _flatten(integration["RequestTemplates"]["application/json"])
    assert "feed-${body.fixture_id}-${body.sequence}" in template
    assert method["Properties"]["RequestValidatorId"]
    assert "application/json" in method["Properties"]["RequestModels"]


def test_ingest_model_is_the_committed_feed_event_schema(dev_app: SynthesizedApp) -> None:
    # Given the API model and the committed schema document
    from stacks.constants import FEED_EVENT_SCHEMA_FILE

    (model,) = [r for r in dev_app.template("-Feed")["Resources"].values() if r["Type"] == "AWS::ApiGateway::Model"]

    # Then API Gateway validates against exactly that schema
    assert model["Properties"]["Schema"] == json.loads(FEED_EVENT_SCHEMA_FILE.read_text())


def _method_id(template: dict[str, Any], http_method: str, path_part: str | None = None) -> str:
    resources = template["Resources"]
    (found,) = [
        method_id
        for method_id, method in resources.items()
        if method["Type"] == "AWS::ApiGateway::Method"
        and method["Properties"]["HttpMethod"] == http_method
        and (
            path_part is None
            or resources[method["Properties"]["ResourceId"]["Ref"]]["Properties"]["PathPart"] == path_part
        )
    ]
    return found


def _trader_command_methods(dev_app: SynthesizedApp) -> dict[str, dict[str, Any]]:
    resources = dev_app.template("-Trader")["Resources"]
    return {
        method_id: method
        for method_id, method in resources.items()
        if method["Type"] == "AWS::ApiGateway::Method"
        and "StartSyncExecution" in _flatten(method["Properties"]["Integration"].get("Uri"))
    }


def test_trader_commands_run_the_workflow_synchronously_with_who_asked(dev_app: SynthesizedApp) -> None:
    # Given the two command routes: traders (Cognito) and service clients (SigV4)
    methods = _trader_command_methods(dev_app)

    # Then both go straight to StartSyncExecution, validate the body, and name the caller in the input
    assert sorted(m["Properties"]["AuthorizationType"] for m in methods.values()) == ["AWS_IAM", "COGNITO_USER_POOLS"]
    for method in methods.values():
        props = method["Properties"]
        assert props["Integration"]["Type"] == "AWS" and props["RequestValidatorId"]
        template = _flatten(props["Integration"]["RequestTemplates"]["application/json"])
        actor = "cognito:username" if props["AuthorizationType"] == "COGNITO_USER_POOLS" else "context.identity.userArn"
        assert actor in template and "trader-${context.requestId}" in template


def test_every_trader_command_failure_has_its_http_status(dev_app: SynthesizedApp) -> None:
    # Given the refusals the domain core answers (the RefuseCommand state raises them as the execution's error)
    # and the response template of the command routes
    from typing import get_args

    from lambdas.domain.trader_rules import Refusal
    from stacks.constants import STATE_MACHINES_DIR

    definition = json.loads((STATE_MACHINES_DIR / "trader_command.asl.json").read_text())
    assert definition["States"]["RefuseCommand"]["ErrorPath"] == "$.decision.answer.error"
    errors = set(get_args(Refusal))
    (method, *_) = _trader_command_methods(dev_app).values()
    (success,) = [r for r in method["Properties"]["Integration"]["IntegrationResponses"] if "SelectionPattern" not in r]
    template = success["ResponseTemplates"]["application/json"]

    # Then each named error is mapped to a status in the template (anything else is a 502)
    assert errors == {"InvalidCommand", "FixtureNotFound", "CommandNotAllowed", "ConflictingUpdate"}
    assert all(f'"{error}"' in template for error in errors)
    assert definition["TimeoutSeconds"] < 29  # API Gateway's integration timeout: the trader gets an answer


def test_iot_access_is_limited_to_the_price_topic_prefix(dev_app: SynthesizedApp) -> None:
    # Given the IoT policy and the identity pool's authenticated role policy
    iot_policies = list(dev_app.resources("AWS::IoT::Policy").values())
    role_policies = [
        p
        for pid, p in dev_app.resources("AWS::IAM::Policy").items()
        if pid.startswith("RealtimeAccessPriceFeedIdentities")
    ]
    statements = [st for p in iot_policies + role_policies for st in _statements(p)]

    # Then they allow only connect, subscribe and receive, and only on the price prefix
    assert len(iot_policies) == 1 and role_policies
    actions = {action for st in statements for action in _as_list(st["Action"])}
    assert actions == {"iot:Connect", "iot:Subscribe", "iot:Receive"}
    for st in statements:
        assert st["Effect"] == "Allow"
        resource = _flatten(st["Resource"])
        if st["Action"] == "iot:Connect":
            # own identity id, then "-" and the tab's suffix (the closing quote: nothing follows)
            assert ':client/${cognito-identity.amazonaws.com:sub}-*"' in resource, resource
        else:
            assert f"/{IOT_PRICE_TOPIC_PREFIX}/*" in resource, resource


def test_bridge_may_publish_only_under_the_price_prefix(dev_app: SynthesizedApp) -> None:
    # Given every statement that allows iot:Publish
    statements = [
        st
        for policy in dev_app.resources("AWS::IAM::Policy").values()
        for st in _statements(policy)
        if "iot:Publish" in _as_list(st["Action"])
    ]

    # Then there is one, scoped to topic/trading/v1/fixtures/*
    assert len(statements) == 1
    assert f":topic/{IOT_PRICE_TOPIC_PREFIX}/*" in _flatten(statements[0]["Resource"])


def test_tables_are_encrypted_recoverable_and_keyed_for_the_guard(dev_app: SynthesizedApp) -> None:
    # Given the tables
    tables = dev_app.resources("AWS::DynamoDB::Table")

    # Then all three use the customer-managed key, have point-in-time recovery, and on-demand capacity (dev)
    assert len(tables) == 3
    for table in tables.values():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["KeySchema"][0] == {"AttributeName": "fixture_id", "KeyType": "HASH"}
        assert props.get("DeletionProtectionEnabled") in (None, False)


def test_prod_protects_tables_prewarms_them_and_keeps_pricing_warm(prod_app: SynthesizedApp) -> None:
    # Given the prod stage
    tables = prod_app.resources("AWS::DynamoDB::Table")
    aliases = prod_app.resources("AWS::Lambda::Alias")
    config = prod_app.engine.config

    # Then tables have deletion protection and warm throughput, and pricing has provisioned concurrency
    assert all(t["Properties"]["DeletionProtectionEnabled"] is True for t in tables.values())
    assert all(t["DeletionPolicy"] == "Retain" for t in tables.values())
    assert all(
        t["Properties"]["WarmThroughput"]["ReadUnitsPerSecond"] == config.table_warm_throughput.read_units_per_second
        for t in tables.values()
    )
    (alias,) = aliases.values()
    assert alias["Properties"]["ProvisionedConcurrencyConfig"] == {
        "ProvisionedConcurrentExecutions": config.pricing_provisioned_concurrency
    }
    assert prod_app.resources("AWS::SNS::Subscription")  # the alarm e-mail
    assert any(
        s["Properties"]["Protocol"] == "email" and s["Properties"]["Endpoint"] == config.alarm_email
        for s in prod_app.resources("AWS::SNS::Subscription").values()
    )


# CDK's own deploy-time functions (the trader console's bucket deployment and its IoT endpoint lookup):
# CloudFormation runs them only while deploying; they are not engine functions and cannot come from the factory.
CDK_DEPLOY_TIME_FUNCTIONS = ("CustomCDKBucketDeployment", "AWS679f53fac002430cb0da5b7982bd2287")


def _deploy_time(logical_id: str) -> bool:
    return logical_id.startswith(CDK_DEPLOY_TIME_FUNCTIONS)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_lambda_is_arm64_traced_with_json_logs(
    stage: str, dev_app: SynthesizedApp, prod_app: SynthesizedApp
) -> None:
    # Given every function of the stage
    every_function = (dev_app if stage == "dev" else prod_app).resources("AWS::Lambda::Function")
    functions = {rid: fn for rid, fn in every_function.items() if not _deploy_time(rid)}

    # Then each runs on arm64 with active tracing and JSON logs to its own log group
    handlers = {fn["Properties"]["Handler"] for fn in functions.values()}
    assert handlers >= {
        "lambdas.handlers.apply_feed_event.handler",
        "lambdas.handlers.apply_trader_command.handler",
        "lambdas.handlers.publish_prices_to_iot.handler",
        "lambdas.handlers.plan_capacity.handler",
        "lambdas.handlers.query_trading_state.handler",
        "lambdas.handlers.start_realtime_session.handler",
    }
    assert len(every_function) - len(functions) == len(CDK_DEPLOY_TIME_FUNCTIONS)
    for fn in functions.values():
        props = fn["Properties"]
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert "LogGroup" in props["LoggingConfig"]


def test_no_iam_role_uses_a_managed_policy_except_api_gateway_logging(dev_app: SynthesizedApp) -> None:
    # Given every IAM role
    roles = dev_app.resources("AWS::IAM::Role")

    # Then only API Gateway's account logging role carries an AWS-managed policy, and CDK's deploy-time
    # functions the basic execution policy (their own logs) and nothing else
    with_managed = [rid for rid, role in roles.items() if role["Properties"].get("ManagedPolicyArns")]
    engine_roles = [rid for rid in with_managed if not _deploy_time(rid)]
    assert len(engine_roles) == 1 and "CloudWatchRole" in engine_roles[0]
    for rid in set(with_managed) - set(engine_roles):
        (arn,) = roles[rid]["Properties"]["ManagedPolicyArns"]
        assert "service-role/AWSLambdaBasicExecutionRole" in json.dumps(arn)


def test_templates_name_no_account_or_region(dev_app: SynthesizedApp) -> None:
    # Given the synthesized templates
    text = json.dumps(dev_app.templates)

    # Then no concrete account or region was looked up: they stay pseudo parameters
    assert "123456789012" not in text
    assert not any(region in text for region in ('"eu-west-1"', '"us-east-1"', '"eu-west-2"'))


def test_the_forwarder_role_may_only_post_feed_events(dev_app: SynthesizedApp) -> None:
    # Given the role the on-prem forwarder assumes
    (role_id,) = [rid for rid in dev_app.resources("AWS::IAM::Role") if rid.startswith("IngestApiFeedForwarderRole")]
    statements = [
        st
        for pid, policy in dev_app.resources("AWS::IAM::Policy").items()
        if any(ref.get("Ref") == role_id for ref in policy["Properties"]["Roles"])
        for st in _statements(policy)
    ]

    # Then its only permission is execute-api:Invoke on POST /feed-events
    assert [st["Action"] for st in statements] == ["execute-api:Invoke"]
    resource = _flatten(statements[0]["Resource"])
    assert "/POST/feed-events" in resource and resource.count("execute-api") == 1


def test_the_poller_role_may_only_receive_and_delete_on_the_on_prem_queues(dev_app: SynthesizedApp) -> None:
    # Given the role the on-prem outbound poller assumes
    (role_id,) = [rid for rid in dev_app.resources("AWS::IAM::Role") if rid.startswith("PriceFanoutOnPremPollerRole")]
    statements = [
        st
        for policy in dev_app.resources("AWS::IAM::Policy").values()
        if any(ref.get("Ref") == role_id for ref in policy["Properties"]["Roles"])
        for st in _statements(policy)
    ]
    on_prem_queues = {
        rid
        for rid in dev_app.resources("AWS::SQS::Queue")
        if rid.startswith(("PriceFanoutOnPremPricesQueue", "PriceFanoutOnPremSettlementQueue"))
    }

    # Then it may consume messages (no send, no purge) from exactly the two on-prem queues, nothing else
    actions = {action for st in statements for action in _as_list(st["Action"])}
    assert "sqs:ReceiveMessage" in actions and "sqs:DeleteMessage" in actions
    assert not any(action in actions for action in ("sqs:SendMessage", "sqs:PurgeQueue", "sqs:*"))
    assert all(action.startswith("sqs:") for action in actions)
    resources = {resource["Fn::GetAtt"][0] for st in statements for resource in _as_list(st["Resource"])}
    assert resources == on_prem_queues


_LAMBDA = "AWS::Lambda::Function"


def _role_statements_of(dev_app: SynthesizedApp, handler: str) -> list[dict[str, Any]]:
    """Every statement of the identity policies attached to the role of the Lambda running ``handler``."""
    (template,) = [
        t
        for t in dev_app.templates.values()
        if any(r["Properties"].get("Handler") == handler for r in t["Resources"].values() if r["Type"] == _LAMBDA)
    ]
    resources = template["Resources"]
    (function,) = [r for r in resources.values() if r["Type"] == _LAMBDA and r["Properties"]["Handler"] == handler]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        st
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for st in _statements(resource)
    ]


def _allowed_resources(statements: list[dict[str, Any]], action: str) -> list[str]:
    """The resources (flattened) that Allow statements grant ``action`` on, IAM's action wildcards included."""
    return [
        _flatten(resource)
        for st in statements
        if st["Effect"] == "Allow" and any(fnmatch.fnmatch(action.lower(), a.lower()) for a in _as_list(st["Action"]))
        for resource in _as_list(st["Resource"])
    ]


def test_the_bridge_retains_only_with_iot_retain_publish_on_the_price_topics(dev_app: SynthesizedApp) -> None:
    # Given what the bridge's publisher asks IoT Core for (recorded), and the synthesized policy of the bridge's role
    calls: list[dict[str, Any]] = []

    class RecordingClient:
        def publish(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    IotPublisher(RecordingClient()).publish(f"{IOT_PRICE_TOPIC_PREFIX}/EPL-2026-ARS-CHE/prices", b"{}")
    statements = _role_statements_of(dev_app, "lambdas.handlers.publish_prices_to_iot.handler")
    price_topics = f':topic/{IOT_PRICE_TOPIC_PREFIX}/*"'

    # Then it may publish on the price topics; a retained publish also needs iot:RetainPublish there (without it
    # AWS IoT answers 403 to every publish), and a bridge that does not retain is not granted it (least privilege)
    (call,) = calls
    assert any(price_topics in resource for resource in _allowed_resources(statements, "iot:Publish"))
    retain_grants = _allowed_resources(statements, "iot:RetainPublish")
    if call["retain"]:
        assert any(price_topics in resource for resource in retain_grants), retain_grants
    else:
        assert retain_grants == []


def test_the_realtime_session_may_attach_the_iot_policy_to_a_cognito_identity(dev_app: SynthesizedApp) -> None:
    # Given the synthesized policy of the realtime-session Lambda's role
    statements = _role_statements_of(dev_app, "lambdas.handlers.start_realtime_session.handler")

    # Then iot:AttachPolicy is allowed on "*": IAM authorizes it against the target, its resource types are cert and
    # thinggroup, and a Cognito identity id is neither, so a grant on the IoT policy's ARN is always denied
    assert _allowed_resources(statements, "iot:AttachPolicy") == ['"*"']
    # ...and it is the role's only IoT action
    iot_actions = {a for st in statements for a in _as_list(st["Action"]) if a.lower().startswith("iot:")}
    assert iot_actions == {"iot:AttachPolicy"}
