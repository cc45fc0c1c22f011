"""Deployment unit: the stateful part, kept apart so the stateless stacks can be replaced freely."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.trading_tables import TradingTables


class StorageStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.tables = TradingTables(self, "TradingTables", config=config)
        CfnOutput(self, "FixturesTableName", value=self.tables.fixtures.table_name)
        CfnOutput(self, "PricesTableName", value=self.tables.prices.table_name)
        CfnOutput(
            self,
            "TraderActionsTableName",
            value=self.tables.trader_actions.table_name,
        )
