"""Deployment unit: who may watch the realtime price feed from a browser."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.realtime_access import RealtimeAccess


class RealtimeAccessStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.access = RealtimeAccess(self, "RealtimeAccess", config=config)
        CfnOutput(self, "UserPoolId", value=self.access.user_pool.user_pool_id)
        CfnOutput(
            self,
            "ConsoleClientId",
            value=self.access.console_client.user_pool_client_id,
        )
        CfnOutput(self, "IdentityPoolId", value=self.access.identity_pool.identity_pool_id)
        CfnOutput(self, "PriceFeedIotPolicyName", value=self.access.iot_policy.ref)
