"""The trader-command workflow: one synchronous EXPRESS execution per command, for the trader API.

Defined in statemachines/trader_command.asl.json. Its one Lambda (ApplyTraderCommand) validates the command,
reads the fixture and decides the command with the domain core (lambdas/domain/trader_rules.py), and prices the
book with the same pricing code as the feed's. The workflow audits (append-only), writes the same fixture item as
the feed workflow under the item's ``revision``, and stores and publishes through the feed's prices table and
price topic, so a trader's change reaches every subscriber exactly as a feed event's does.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import (
    FAIL_STATES_ARE_ANSWERS,
    PRICING_FUNCTION_MEMORY_MB,
    PRICING_FUNCTION_TIMEOUT_SECONDS,
    STATE_MACHINES_DIR,
)
from stacks.constructs.express_workflow import express_workflow
from stacks.constructs.lambda_function import engine_function
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
        price_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        self.command_function = engine_function(
            self,
            "ApplyTraderCommand",
            handler="lambdas.handlers.apply_trader_command.handler",
            description="Validates and decides a trader command with the domain core, and prices the fixture's book",
            config=config,
            memory_size=PRICING_FUNCTION_MEMORY_MB,
            timeout_seconds=PRICING_FUNCTION_TIMEOUT_SECONDS,
            environment={"FIXTURES_TABLE_NAME": fixtures.table_name, "PRICES_TABLE_NAME": prices.table_name},
        )
        acknowledge(
            self.command_function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by the workflow, which answers the trader with the error: nothing to redeliver",
        )
        # It reads the fixture itself (items only: no index), so the whole item never rides in the state data.
        iam.Grant.add_to_principal(
            grantee=self.command_function, actions=["dynamodb:GetItem"], resource_arns=[fixtures.table_arn]
        )
        if fixtures.encryption_key is not None:
            fixtures.encryption_key.grant_decrypt(self.command_function)
        self.state_machine, self.log_group = express_workflow(
            self,
            "TraderCommand",
            definition_file=TRADER_COMMAND_DEFINITION,
            substitutions={
                "FixturesTableName": fixtures.table_name,
                "PricesTableName": prices.table_name,
                "TraderActionsTableName": trader_actions.table_name,
                "ApplyTraderCommandFunctionArn": self.command_function.function_arn,
                "PriceTopicArn": price_topic.topic_arn,
            },
            config=config,
        )
        self.state_machine.node.add_metadata(
            FAIL_STATES_ARE_ANSWERS,
            "InvalidCommand, FixtureNotFound, CommandNotAllowed and ConflictingUpdate answer 400, 404 and 409",
        )
        # On the table only: table.grant() would add the table's indexes, which these item calls never touch.
        iam.Grant.add_to_principal(
            grantee=self.state_machine,
            actions=["dynamodb:UpdateItem"],
            resource_arns=[fixtures.table_arn],
        )
        prices.grant(self.state_machine, "dynamodb:PutItem")
        # Append-only: records are put under attribute_not_exists(action_id), never updated.
        trader_actions.grant(self.state_machine, "dynamodb:PutItem")
        for table in (fixtures, prices, trader_actions):
            if table.encryption_key is not None:
                table.encryption_key.grant_encrypt_decrypt(self.state_machine)
        # The unqualified functions only: grant_invoke would add every version (arn:*), which nothing here calls.
        iam.Grant.add_to_principal(
            grantee=self.state_machine,
            actions=["lambda:InvokeFunction"],
            resource_arns=[self.command_function.function_arn],
        )
        price_topic.grant_publish(self.state_machine)
