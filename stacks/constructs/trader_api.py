"""The trader API: commands through the synchronous trader-command workflow, queries, and realtime sign-in.

Traders call it from the console with their Cognito ID token (a user-pool authorizer); service clients call the
same commands under ``/service`` with SigV4 (IAM). Commands go straight to ``states:StartSyncExecution``
(no Lambda): the request template names who asked, the response template turns the execution's outcome
into an HTTP status (StartSyncExecution itself answers 200 when the execution failed).
"""

from __future__ import annotations

import json

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import TRADER_COMMAND_SCHEMA_FILE
from stacks.constructs.lambda_function import engine_function
from stacks.constructs.realtime_access import grant_attach_price_feed_policy
from stacks.constructs.rest_api import engine_rest_api, sync_execution_integration
from stacks.nag import acknowledge

# A value from the request goes into the execution input, a JSON document inside the JSON string "input":
# it is escaped twice. escapeJavaScript writes a single quote as \' (not JSON), so each pass undoes that.
# Velocity keeps a string literal's backslashes: "\\'" is the Java regex \\' (a backslash, then a quote).
_TWICE_ESCAPED = (
    "#set(${name} = $util.escapeJavaScript($util.escapeJavaScript({value})"
    '.replaceAll("\\\\\'","\'")).replaceAll("\\\\\'","\'"))'
)


def _escaped(name: str, value: str) -> str:
    return _TWICE_ESCAPED.replace("{name}", name).replace("{value}", value)


def start_command_template(state_machine_arn: str, *, actor: str) -> str:
    """The StartSyncExecution request: the command, its fixture, the request id and who asked (``actor``)."""
    if actor == "trader":
        actor_lines = [
            _escaped("username", "$context.authorizer.claims.get('cognito:username')"),
            _escaped("sub", "$context.authorizer.claims.get('sub')"),
        ]
        actor_json = '{\\"kind\\": \\"trader\\", \\"username\\": \\"${username}\\", \\"sub\\": \\"${sub}\\"}'
    else:
        actor_lines = [_escaped("caller", "$context.identity.userArn")]
        actor_json = '{\\"kind\\": \\"service\\", \\"caller\\": \\"${caller}\\"}'
    return "\n".join(
        [
            _escaped("fixtureId", "$input.params('fixture_id')"),
            *actor_lines,
            "{",
            f'  "stateMachineArn": "{state_machine_arn}",',
            '  "name": "trader-${context.requestId}",',
            '  "input": "{\\"fixture_id\\": \\"${fixtureId}\\", \\"request_id\\": \\"${context.requestId}\\", '
            f'\\"actor\\": {actor_json}, '
            '\\"command\\": $util.escapeJavaScript($input.json(\'$\')).replaceAll("\\\\\'","\'")}"',
            "}",
        ]
    )


# Error names are the Fail states of statemachines/trader_command.asl.json; anything else after the workflow's
# own retries is the service's fault (502), a timeout 504.
COMMAND_RESPONSE_TEMPLATE = """#set($result = $input.path('$'))
#if($result.status == "SUCCEEDED")
$result.output
#else
#set($refused = true)
#if($result.error == "InvalidCommand")
#set($context.responseOverride.status = 400)
#elseif($result.error == "FixtureNotFound")
#set($context.responseOverride.status = 404)
#elseif($result.error == "CommandNotAllowed" || $result.error == "ConflictingUpdate")
#set($context.responseOverride.status = 409)
#elseif($result.status == "TIMED_OUT")
#set($context.responseOverride.status = 504)
#set($refused = false)
#else
#set($context.responseOverride.status = 502)
#set($refused = false)
#end
#set($message = $util.escapeJavaScript($!result.cause).replaceAll("\\\\'","'"))
#set($cause = $input.path('$.cause'))
#if($refused && $cause && $cause.matches("(?s)[A-Za-z0-9_.]+: .*"))
#set($field = $cause.substring(0, $cause.indexOf(":")))
{"message": "$message", "error": "$util.escapeJavaScript($!result.error)", "field": "$field"}
#else
{"message": "$message", "error": "$util.escapeJavaScript($!result.error)"}
#end
#end"""


class TraderApi(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        workflow: sfn.IStateMachine,
        user_pool: cognito.IUserPool,
        fixtures: dynamodb.ITable,
        prices: dynamodb.ITable,
        identity_pool_id: str,
        price_feed_iot_policy_name: str,
    ) -> None:
        super().__init__(scope, id_)
        self.api = engine_rest_api(
            self,
            "Trader",
            description="Trader commands (Cognito, or SigV4 under /service), trading-state queries, realtime sign-in",
            config=config,
            throttle=config.trader_api_throttle,
        )
        self.api.add_gateway_response(
            "InvalidTraderCommand",
            type=apigateway.ResponseType.BAD_REQUEST_BODY,
            status_code="400",
            templates={"application/json": '{"message": "invalid command: $context.error.validationErrorString"}'},
        )
        authorizer = apigateway.CognitoUserPoolsAuthorizer(
            self, "TraderSignIn", cognito_user_pools=[user_pool], results_cache_ttl=None
        )
        trader_auth = apigateway.MethodOptions(
            authorization_type=apigateway.AuthorizationType.COGNITO, authorizer=authorizer
        )
        service_auth = apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM)

        model = self.api.add_model(
            "TraderCommandModel",
            content_type="application/json",
            description="A trader command (docs/schemas/trader-command.schema.json, generated from pydantic models)",
            schema=apigateway.JsonSchema(
                schema=apigateway.JsonSchemaVersion.DRAFT4, type=apigateway.JsonSchemaType.OBJECT
            ),
        )
        model.node.default_child.add_property_override(  # type: ignore[union-attr]
            "Schema", json.loads(TRADER_COMMAND_SCHEMA_FILE.read_text())
        )
        validator = self.api.add_request_validator(
            "TraderCommandBody", validate_request_body=True, validate_request_parameters=True
        )
        integration_role = iam.Role(
            self,
            "StartSyncExecutionRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets the trader API run trader-command executions synchronously, nothing else",
        )
        workflow.grant(integration_role, "states:StartSyncExecution")

        def command_integration(actor: str) -> apigateway.AwsIntegration:
            return sync_execution_integration(
                credentials_role=integration_role,
                request_template=start_command_template(workflow.state_machine_arn, actor=actor),
                status_code="200",
                response_template=COMMAND_RESPONSE_TEMPLATE,
                unavailable_body='{"message": "trader workflow unavailable, retry"}',
            )

        command_responses = [
            apigateway.MethodResponse(status_code=code)
            for code in ("200", "400", "404", "409", "500", "502", "503", "504")
        ]
        fixtures_resource = self.api.root.add_resource("fixtures")
        fixture_resource = fixtures_resource.add_resource("{fixture_id}")
        self.post_command = fixture_resource.add_resource("commands").add_method(
            "POST",
            command_integration("trader"),
            request_models={"application/json": model},
            request_validator=validator,
            method_responses=command_responses,
            authorization_type=trader_auth.authorization_type,
            authorizer=trader_auth.authorizer,
        )
        service_commands = (
            self.api.root.add_resource("service")
            .add_resource("fixtures")
            .add_resource("{fixture_id}")
            .add_resource("commands")
        )
        self.post_service_command = service_commands.add_method(
            "POST",
            command_integration("service"),
            request_models={"application/json": model},
            request_validator=validator,
            method_responses=command_responses,
            authorization_type=service_auth.authorization_type,
        )

        self.query_function = engine_function(
            self,
            "QueryTradingState",
            handler="lambdas.handlers.query_trading_state.handler",
            description="Query API: fixtures, one fixture's state and current book, its price history",
            config=config,
            memory_size=512,
            timeout_seconds=10,
            environment={"FIXTURES_TABLE_NAME": fixtures.table_name, "PRICES_TABLE_NAME": prices.table_name},
        )
        # On the tables only, the calls the queries make: grant_read_data would add every index.
        iam.Grant.add_to_principal(
            grantee=self.query_function,
            actions=["dynamodb:GetItem", "dynamodb:Scan"],
            resource_arns=[fixtures.table_arn],
        )
        iam.Grant.add_to_principal(
            grantee=self.query_function, actions=["dynamodb:Query"], resource_arns=[prices.table_arn]
        )
        for table in (fixtures, prices):
            if table.encryption_key is not None:
                table.encryption_key.grant_decrypt(self.query_function)
        queries = apigateway.LambdaIntegration(self.query_function)
        for resource in (fixtures_resource, fixture_resource, fixture_resource.add_resource("prices")):
            resource.add_method(
                "GET", queries, authorization_type=trader_auth.authorization_type, authorizer=trader_auth.authorizer
            )

        self.realtime_session_function = engine_function(
            self,
            "StartRealtimeSession",
            handler="lambdas.handlers.start_realtime_session.handler",
            description="Attaches the read-only price-feed IoT policy to the signed-in trader's own Cognito identity",
            config=config,
            memory_size=256,
            timeout_seconds=10,
            environment={
                "IDENTITY_POOL_ID": identity_pool_id,
                "USER_POOL_PROVIDER_NAME": user_pool.user_pool_provider_name,
                "PRICE_FEED_IOT_POLICY_NAME": price_feed_iot_policy_name,
            },
        )
        grant_attach_price_feed_policy(self.realtime_session_function)
        self.api.root.add_resource("realtime").add_resource("session").add_method(
            "POST",
            apigateway.LambdaIntegration(self.realtime_session_function),
            authorization_type=trader_auth.authorization_type,
            authorizer=trader_auth.authorizer,
        )
        for function in (self.query_function, self.realtime_session_function):
            acknowledge(
                function,
                "Serverless-LambdaDLQ",
                "Invoked synchronously by API Gateway: the caller gets the error, there is nothing to redeliver",
            )
        acknowledge(
            self.api,
            "AwsSolutions-APIG3",
            "Every route needs a Cognito token or a SigV4 signature and the stage is throttled; WAF is a "
            "deployment choice per account (a web ACL can be associated with the stage without changing the app)",
        )
        acknowledge(
            self.api,
            "AwsSolutions-COG4",
            "The /service routes are for machine clients signing with SigV4 (IAM auth); every trader route uses "
            "the Cognito user-pool authorizer",
        )
