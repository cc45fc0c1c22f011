"""Capacity before big fixtures: a scheduled Lambda warms the tables and the pricing alias ahead of kick-off."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import BigFixtureCapacity, StageConfig
from stacks.constants import (
    CAPACITY_PLANNER_MEMORY_MB,
    CAPACITY_PLANNER_RATE_MINUTES,
    CAPACITY_PLANNER_TIMEOUT_SECONDS,
    FIXTURES_KICK_OFF_INDEX,
)
from stacks.constructs.lambda_function import engine_function
from stacks.nag import acknowledge


class CapacityPlanner(Construct):
    """Every 15 minutes, count the fixtures live or kicking off within the lead time (the fixtures table's
    kick-off index); when they reach the threshold, raise the tables' warm throughput (never lowered: DynamoDB
    cannot) and the pricing alias's provisioned concurrency, and restore the stage's own concurrency after.

    It may only query the kick-off index, describe and update the given tables, and manage the provisioned
    concurrency of the one alias.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        capacity: BigFixtureCapacity,
        fixtures: dynamodb.Table,
        warmed_tables: list[dynamodb.Table],
        pricing_alias: lambda_.Alias,
    ) -> None:
        super().__init__(scope, id_)
        warm = capacity.table_warm_throughput
        self.function = engine_function(
            self,
            "PlanCapacity",
            handler="lambdas.handlers.plan_capacity.handler",
            description="Raises table warm throughput and pricing concurrency before busy kick-offs",
            config=config,
            memory_size=CAPACITY_PLANNER_MEMORY_MB,
            timeout_seconds=CAPACITY_PLANNER_TIMEOUT_SECONDS,
            environment={
                "FIXTURES_TABLE_NAME": fixtures.table_name,
                "KICK_OFF_INDEX_NAME": FIXTURES_KICK_OFF_INDEX,
                "WARM_TABLE_NAMES": ",".join(table.table_name for table in warmed_tables),
                "PRICING_FUNCTION_NAME": pricing_alias.version.lambda_.function_name,
                "PRICING_ALIAS": pricing_alias.alias_name,
                "SPORTS": "football",
                "LEAD_MINUTES": str(capacity.lead_minutes),
                "MATCH_LENGTH_MINUTES": str(capacity.match_length_minutes),
                "FIXTURES_THRESHOLD": str(capacity.fixtures_threshold),
                "BUSY_CONCURRENCY": str(capacity.pricing_provisioned_concurrency),
                "BASELINE_CONCURRENCY": str(config.pricing_provisioned_concurrency),
                "WARM_READS_PER_SECOND": str(warm.read_units_per_second if warm else 0),
                "WARM_WRITES_PER_SECOND": str(warm.write_units_per_second if warm else 0),
            },
        )
        # Named ARNs, not table.grant(): that would add every index of each table (index/*).
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["dynamodb:Query"],
            resource_arns=[f"{fixtures.table_arn}/index/{FIXTURES_KICK_OFF_INDEX}"],
        )
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["dynamodb:DescribeTable", "dynamodb:UpdateTable"],
            resource_arns=[table.table_arn for table in warmed_tables],
        )
        # The table's key decrypts what the query returns.
        for table in {id(table): table for table in [fixtures, *warmed_tables]}.values():
            if table.encryption_key is not None:
                table.encryption_key.grant_decrypt(self.function)
        # No grant_* exists for provisioned concurrency: the statement names the one alias.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "lambda:GetProvisionedConcurrencyConfig",
                    "lambda:PutProvisionedConcurrencyConfig",
                    "lambda:DeleteProvisionedConcurrencyConfig",
                ],
                resources=[pricing_alias.function_arn],
            )
        )
        self.schedule = events.Rule(
            self,
            "EveryQuarterHour",
            description="Plans table and pricing capacity for the fixtures about to kick off",
            schedule=events.Schedule.rate(Duration.minutes(CAPACITY_PLANNER_RATE_MINUTES)),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "A failed run is repeated by the next one 15 minutes later; its errors alarm on the dashboard",
        )
        acknowledge(
            self.schedule,
            "Serverless-EventBusDLQ",
            "A schedule whose delivery fails is replaced by the next one 15 minutes later; nothing to replay",
        )
