"""The push endpoint for the on-prem feed forwarder: IAM-signed, schema-validated, straight into Step Functions.

The API runs the feed workflow synchronously (``StartSyncExecution``) and answers when the event has been
applied, skipped or quarantined. That is what keeps a fixture's events in order: the forwarder sends a
fixture's next event only after this answer, so two executions of one fixture never overlap. (With
``StartExecution`` the API answered at once, and a fixture's next event could run before its previous one
had been applied: measured locally, up to 86 of 222 events were then refused as out of order.)
"""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import FEED_EVENT_SCHEMA_FILE
from stacks.constructs.rest_api import engine_rest_api, sync_execution_integration
from stacks.nag import acknowledge

# The execution name is the event's idempotency key: the fixture and its feed sequence. The schema
# restricts fixture_id to [A-Za-z0-9_-]{1,48}, so the name is always a legal one (at most 70 characters).
# Formal references (${body.fixture_id}) are required: Velocity 1.x allows '-' inside identifiers, so
# "$body.fixture_id-" would be read as a property "fixture_id-" and rendered literally ('$' is illegal there).
# escapeJavaScript escapes single quotes as \' (not JSON): the replaceAll undoes that. Velocity keeps the
# backslashes of a string literal, so "\\'" is the Java regex \\' (a backslash, then a quote).
# tests/unit/test_mapping_templates.py renders this template.
START_EXECUTION_TEMPLATE = """#set($body = $input.path('$'))
{
  "stateMachineArn": "%s",
  "name": "feed-${body.fixture_id}-${body.sequence}",
  "input": "$util.escapeJavaScript($input.json('$')).replaceAll("\\\\'","'")"
}"""


# StartSyncExecution answers 200 whatever the execution's end. A quarantined event (the EventQuarantined Fail
# state) is accepted: it is on the quarantine queue with its reason, and sending it again changes nothing. Any
# other failure (the execution timed out or could not quarantine) is a 503: the forwarder sends it again, and
# the workflow's guard makes that harmless.
FEED_RESPONSE_TEMPLATE = """#set($result = $input.path('$'))
#if($result.status == "SUCCEEDED" || $result.error == "EventQuarantined")
#if($result.status == "SUCCEEDED")#set($outcome = "processed")#else#set($outcome = "quarantined")#end
{"accepted": true, "outcome": "$outcome", "execution_arn": "$result.executionArn"}
#else
#set($context.responseOverride.status = 503)
{"accepted": false, "error": "$util.escapeJavaScript($!result.error)", "message": "the workflow did not finish, retry"}
#end"""


class IngestApi(Construct):
    """``POST /v1/feed-events``: IAM auth, JSON-schema validation, then ``states:StartSyncExecution`` (no Lambda)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        workflow: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, id_)
        self.api = engine_rest_api(
            self,
            "FeedIngest",
            description="Feed events pushed from the on-prem forwarder (SigV4)",
            config=config,
            throttle=config.ingest_throttle,
            owns_account_logging_role=True,
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
        )
        # A rejected body names the failing field: API Gateway's validation message goes back to the caller.
        self.api.add_gateway_response(
            "InvalidFeedEvent",
            type=apigateway.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            templates={
                "application/json": '{"error": "invalid feed event", "detail": "$context.error.validationErrorString"}'
            },
        )

        schema = json.loads(FEED_EVENT_SCHEMA_FILE.read_text())
        model = self.api.add_model(
            "FeedEventModel",
            content_type="application/json",
            description="A feed event (docs/schemas/feed-event.schema.json, generated from the pydantic models)",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4,
                type=apigateway.JsonSchemaType.OBJECT,
            ),
        )
        # The committed schema document is used as it is: the L2 JsonSchema type cannot express every keyword.
        model.node.default_child.add_property_override("Schema", schema)  # type: ignore[union-attr]

        integration_role = iam.Role(
            self,
            "StartExecutionRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets the ingest API start feed workflow executions, nothing else",
        )
        workflow.grant(integration_role, "states:StartSyncExecution")

        integration = sync_execution_integration(
            credentials_role=integration_role,
            request_template=START_EXECUTION_TEMPLATE % workflow.state_machine_arn,
            status_code="202",
            response_template=FEED_RESPONSE_TEMPLATE,
            # Step Functions' throttling and faults are not the caller's: the forwarder retries a 503.
            unavailable_body='{"accepted": false, "error": "workflow unavailable, retry"}',
        )
        feed_events = self.api.root.add_resource("feed-events")
        self.post_feed_event = feed_events.add_method(
            "POST",
            integration,
            request_models={"application/json": model},
            request_validator_options=apigateway.RequestValidatorOptions(
                request_validator_name="feed-event-body",
                validate_request_body=True,
                validate_request_parameters=True,
            ),
            method_responses=[apigateway.MethodResponse(status_code=code) for code in ("202", "400", "500", "503")],
        )
        # The identity the on-prem forwarder signs with: it may call this one method and nothing else.
        # Principals of this account assume it (the forwarder's own credentials, e.g. IAM Roles Anywhere).
        self.forwarder_role = iam.Role(
            self,
            "FeedForwarderRole",
            assumed_by=iam.AccountRootPrincipal(),
            description="Assumed by the on-prem feed forwarder: POST /v1/feed-events only",
            max_session_duration=Duration.hours(1),
        )
        self.post_feed_event.grant_execute(self.forwarder_role)
        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "API Gateway's account-level logging role: the AWS-managed policy is the documented way",
        )
        acknowledge(
            self.api,
            "AwsSolutions-COG4",
            "A machine client (the on-prem forwarder) calls this API with SigV4 (IAM auth), not a Cognito user",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "IAM auth rejects unsigned calls before they cost anything; a WAF adds little for one machine client",
        )
