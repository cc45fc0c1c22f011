"""The one Lambda function factory: runtime, architecture, packaging, logging and tracing decided once."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import (
    LAMBDA_LAYER_DIR,
    METRICS_NAMESPACE,
    PROJECT_ROOT,
    SERVICE_NAME,
)
from stacks.nag import acknowledge

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# The function code is the `lambdas` package taken straight from the checkout (no copy step that could go
# stale); everything else in the repository is excluded from the asset.
_CODE_EXCLUDES = [
    "*",
    "!lambdas",
    "!lambdas/**",
    "**/__pycache__",
    "**/*.pyc",
    "lambdas/requirements.txt",
]
_LAYER_ID = "LambdaDependencies"


def _dependencies_layer(scope: Construct) -> lambda_.ILayerVersion:
    """One dependency layer per stack, shared by every function in it."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(_LAYER_ID)
    if existing is not None:
        return existing  # type: ignore[return-value]
    if not (LAMBDA_LAYER_DIR / "python").is_dir():
        raise FileNotFoundError(
            f"{LAMBDA_LAYER_DIR.relative_to(PROJECT_ROOT)}/python is missing: run `make build` first "
            "(it installs lambdas/requirements.txt for arm64 Lambda with pip --platform; no Docker needed)"
        )
    return lambda_.LayerVersion(
        stack,
        _LAYER_ID,
        code=lambda_.Code.from_asset(str(LAMBDA_LAYER_DIR)),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="Pinned runtime dependencies from lambdas/requirements.txt (arm64)",
    )


def engine_function(
    scope: Construct,
    id_: str,
    *,
    handler: str,
    description: str,
    config: StageConfig,
    memory_size: int,
    timeout_seconds: int,
    environment: dict[str, str] | None = None,
    dead_letter_queue: sqs.IQueue | None = None,
) -> lambda_.Function:
    """Create a Lambda function with the project's runtime, tracing and structured logging.

    The function gets its own role with no managed policies: it may write to its own log group
    and whatever the caller grants it afterwards with ``grant_*``.
    """
    log_group = logs.LogGroup(
        scope,
        f"{id_}Logs",
        retention=config.retention,
        removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{id_}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Execution role of {id_}: its log group plus explicit grants",
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        id_,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=lambda_.Code.from_asset(str(PROJECT_ROOT), exclude=_CODE_EXCLUDES),
        layers=[_dependencies_layer(scope)],
        memory_size=memory_size,
        timeout=Duration.seconds(timeout_seconds),
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        tracing=lambda_.Tracing.ACTIVE,
        dead_letter_queue=dead_letter_queue,
        environment={
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "STAGE": config.name,
            **(environment or {}),
        },
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray active tracing: xray:PutTraceSegments and PutTelemetryRecords support no resource-level scoping",
    )
    return function
