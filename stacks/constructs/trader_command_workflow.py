"""The trader-command workflow: one synchronous EXPRESS execution per command, for the trader API.

Defined in statemachines/trader_command.asl.json. It writes the same fixture item as the feed workflow,
under the item's ``revision`` guard, and reuses the feed's pricing Lambda, prices table and price topic, so a
trader's change reaches every subscriber exactly as a feed event's does.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import STATE_MACHINES_DIR
from stacks.nag import acknowledge

TRADER_COMMAND_DEFINITION = STATE_MACHINES_DIR / "trader_command.asl.json"


class TraderCommandWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        fixtures: dynamodb.ITable,
        prices: dynamodb.ITable,
        trader_actions: dynamodb.ITable,
        pricing_function: lambda_.IFunction,
        price_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-TraderCommand",
            retention=config.retention,
            removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "TraderCommand",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_string(TRADER_COMMAND_DEFINITION.read_text()),
            definition_substitutions={
                "FixturesTableName": fixtures.table_name,
                "PricesTableName": prices.table_name,
                "TraderActionsTableName": trader_actions.table_name,
                "PriceFixtureFunctionArn": pricing_function.function_arn,
                "PriceTopicArn": price_topic.topic_arn,
            },
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        fixtures.grant(self.state_machine, "dynamodb:GetItem", "dynamodb:UpdateItem")
        prices.grant(self.state_machine, "dynamodb:PutItem")
        trader_actions.grant(self.state_machine, "dynamodb:PutItem", "dynamodb:UpdateItem")
        for table in (fixtures, prices, trader_actions):
            if table.encryption_key is not None:
                table.encryption_key.grant_encrypt_decrypt(self.state_machine)
        pricing_function.grant_invoke(self.state_machine)
        price_topic.grant_publish(self.state_machine)
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Step Functions log delivery (logs:CreateLogDelivery and friends) and X-Ray support no resource scoping",
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(
                self.state_machine.role,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's grant for the table and topic keys; the statement is scoped to those keys' ARNs",
            )
