"""The one REST API factory: regional, traced, throttled per stage, with JSON access logs and no body logging."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks.config import ApiThrottle, StageConfig

STAGE_NAME = "v1"


def engine_rest_api(
    scope: Construct,
    id_: str,
    *,
    description: str,
    config: StageConfig,
    throttle: ApiThrottle,
    owns_account_logging_role: bool = False,
    default_method_options: apigateway.MethodOptions | None = None,
) -> apigateway.RestApi:
    """A REST API whose stage ``v1`` logs every request (caller, status, latency) but never a body.

    Bodies stay out of API logs (``data_trace_enabled=False``): the workflows' own logs carry them, with
    execution data. API Gateway's account-level logging role is created by one API only
    (``owns_account_logging_role``): it is one setting per account and region.
    """
    access_logs = logs.LogGroup(
        scope,
        f"{id_}AccessLogs",
        retention=config.retention,
        removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
    )
    return apigateway.RestApi(
        scope,
        id_,
        description=description,
        endpoint_types=[apigateway.EndpointType.REGIONAL],
        cloud_watch_role=owns_account_logging_role,
        cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if owns_account_logging_role else None,
        default_method_options=default_method_options,
        deploy_options=apigateway.StageOptions(
            stage_name=STAGE_NAME,
            tracing_enabled=True,
            logging_level=apigateway.MethodLoggingLevel.INFO,
            data_trace_enabled=False,
            metrics_enabled=True,
            throttling_rate_limit=throttle.rate_per_second,
            throttling_burst_limit=throttle.burst,
            access_log_destination=apigateway.LogGroupLogDestination(access_logs),
            access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                caller=True,
                http_method=True,
                ip=True,
                protocol=True,
                request_time=True,
                resource_path=True,
                response_length=True,
                status=True,
                user=True,
            ),
        ),
    )


def sync_execution_integration(
    *,
    credentials_role: iam.IRole,
    request_template: str,
    status_code: str,
    response_template: str,
    unavailable_body: str,
) -> apigateway.AwsIntegration:
    """``states:StartSyncExecution`` straight from API Gateway, no Lambda.

    StartSyncExecution answers HTTP 200 whatever the execution's end, so ``response_template`` maps the
    outcome itself (``$context.responseOverride.status``). Step Functions refusing the call is mapped by why
    (:func:`refused_start_template`): throttled or its own fault is a 503 with ``unavailable_body``, and the caller
    retries later; a body too large for an execution's input is a 400 naming the body, which no retry would cure.
    """
    return apigateway.AwsIntegration(
        service="states",
        action="StartSyncExecution",
        integration_http_method="POST",
        options=apigateway.IntegrationOptions(
            credentials_role=credentials_role,
            passthrough_behavior=apigateway.PassthroughBehavior.NEVER,
            request_templates={"application/json": request_template},
            integration_responses=[
                apigateway.IntegrationResponse(
                    status_code=status_code, response_templates={"application/json": response_template}
                ),
                apigateway.IntegrationResponse(
                    selection_pattern=r"5\d{2}",
                    status_code="503",
                    response_templates={"application/json": unavailable_body},
                ),
                apigateway.IntegrationResponse(
                    selection_pattern=r"4\d{2}",
                    status_code="400",
                    response_templates={"application/json": refused_start_template(unavailable_body)},
                ),
            ],
        ),
    )


def refused_start_template(unavailable_body: str) -> str:
    """The answer when Step Functions refuses to start an execution with a 4xx, by the error's ``__type``.

    Throttling is a 503 with ``unavailable_body`` (retry later); an input Step Functions cannot take (over 256 KB,
    ``ValidationException`` or ``InvalidExecutionInput``) is a 400 naming the body; anything else (access denied, no
    such state machine) is the deployment's fault, a 500.
    """
    return (
        "#set($type = \"$input.path('$.__type')\")\n"
        '#if($type.contains("Throttling"))\n'
        "#set($context.responseOverride.status = 503)\n"
        f"{unavailable_body}\n"
        '#elseif($type.contains("ValidationException") || $type.contains("InvalidExecutionInput"))\n'
        '{"message": "body: too large for a workflow execution (Step Functions takes at most 256 KB)", '
        '"field": "body"}\n'
        "#else\n"
        "#set($context.responseOverride.status = 500)\n"
        '{"message": "the workflow could not be started", "error": "$util.escapeJavaScript($type)"}\n'
        "#end"
    )
