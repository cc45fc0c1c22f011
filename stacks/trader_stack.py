"""Deployment unit: what traders act through, the trader API and the synchronous trader-command workflow."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.realtime_access import RealtimeAccess
from stacks.constructs.trader_api import TraderApi
from stacks.constructs.trader_command_workflow import TraderCommandWorkflow
from stacks.constructs.trading_tables import TradingTables


class TraderStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        tables: TradingTables,
        price_topic: sns.ITopic,
        realtime_access: RealtimeAccess,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.workflow = TraderCommandWorkflow(
            self,
            "TraderCommandWorkflow",
            config=config,
            fixtures=tables.fixtures,
            prices=tables.prices,
            trader_actions=tables.trader_actions,
            price_topic=price_topic,
        )
        self.api = TraderApi(
            self,
            "TraderApi",
            config=config,
            workflow=self.workflow.state_machine,
            user_pool=realtime_access.user_pool,
            fixtures=tables.fixtures,
            prices=tables.prices,
            identity_pool_id=realtime_access.identity_pool.identity_pool_id,
            price_feed_iot_policy_name=realtime_access.iot_policy.ref,
        )
        CfnOutput(self, "TraderCommandStateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        CfnOutput(self, "TraderApiUrl", value=self.api.api.url)
