"""The one EXPRESS state machine factory: an ASL file inlined, logs ALL with execution data, X-Ray tracing."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import StageConfig
from stacks.nag import acknowledge


def express_workflow(
    scope: Construct,
    id_: str,
    *,
    definition_file: Path,
    substitutions: dict[str, str],
    config: StageConfig,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """An EXPRESS state machine from ``statemachines/*.asl.json`` and the log group it logs every execution to.

    The definition is inlined (``DefinitionBody.from_string``), so the synthesized template, its snapshot and
    cfn-lint all see the real states. Express workflows keep their history only in CloudWatch Logs: level ALL
    with execution data is what lets operators trace an execution in the Step Functions console.
    """
    log_group = logs.LogGroup(
        scope,
        "ExecutionLogs",
        # The /aws/vendedlogs/states/ prefix keeps Step Functions' log delivery within the
        # CloudWatch Logs resource-policy size limit; the stack name keeps it unique per stage.
        log_group_name=f"/aws/vendedlogs/states/{Stack.of(scope).stack_name}-{id_}",
        retention=config.retention,
        removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
    )
    state_machine = sfn.StateMachine(
        scope,
        id_,
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_string(definition_file.read_text()),
        definition_substitutions=substitutions,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
    )
    acknowledge(
        state_machine.role,
        "AwsSolutions-IAM5[Resource::*]",
        "Step Functions log delivery (logs:CreateLogDelivery and friends) and X-Ray support no resource scoping",
    )
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        acknowledge(
            state_machine.role,
            f"AwsSolutions-IAM5[Action::{action}]",
            "CDK's grant for the table and topic keys; the statement is scoped to those keys' ARNs",
        )
    return state_machine, log_group
