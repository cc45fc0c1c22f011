"""Deployment unit: the feed path, from the push endpoint through the workflow to the price topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.alarms import DeadLetterAlarms
from stacks.constructs.capacity_planner import CapacityPlanner
from stacks.constructs.feed_workflow import FeedWorkflow
from stacks.constructs.ingest_api import IngestApi
from stacks.constructs.trading_tables import TradingTables


class FeedStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        tables: TradingTables,
        price_topic: sns.ITopic,
        alarm_topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.workflow = FeedWorkflow(
            self,
            "FeedWorkflow",
            config=config,
            fixtures=tables.fixtures,
            prices=tables.prices,
            price_topic=price_topic,
        )
        if config.big_fixture_capacity is not None:
            self.capacity_planner = CapacityPlanner(
                self,
                "CapacityPlanner",
                config=config,
                capacity=config.big_fixture_capacity,
                fixtures=tables.fixtures,
                warmed_tables=[tables.fixtures, tables.prices],
                pricing_alias=self.workflow.pricing_alias,
            )
        self.ingest = IngestApi(self, "IngestApi", config=config, workflow=self.workflow.state_machine)
        DeadLetterAlarms(
            self,
            "DeadLetterAlarms",
            queues={"QuarantinedEvents": self.workflow.quarantine},
            alarm_topic=alarm_topic,
        )
        CfnOutput(
            self,
            "FeedEventStateMachineArn",
            value=self.workflow.state_machine.state_machine_arn,
        )
        CfnOutput(self, "QuarantineQueueUrl", value=self.workflow.quarantine.queue_url)
        CfnOutput(self, "IngestUrl", value=self.ingest.api.url_for_path("/feed-events"))
        CfnOutput(self, "FeedForwarderRoleArn", value=self.ingest.forwarder_role.role_arn)
