"""Deployment unit: the trader console, served by CloudFront from a private bucket."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.trader_console import TraderConsole


class ConsoleStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        api: apigateway.IRestApi,
        user_pool: cognito.IUserPool,
        user_pool_client: cognito.IUserPoolClient,
        identity_pool_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.console = TraderConsole(
            self,
            "TraderConsole",
            config=config,
            api=api,
            user_pool=user_pool,
            user_pool_client=user_pool_client,
            identity_pool_id=identity_pool_id,
        )
        CfnOutput(self, "ConsoleUrl", value=self.console.url)
        CfnOutput(self, "ConsoleBucketName", value=self.console.bucket.bucket_name)
