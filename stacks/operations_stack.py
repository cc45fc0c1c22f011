"""Deployment unit: where operators are told that something needs them."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.alarms import AlarmTopic


class OperationsStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.alarms = AlarmTopic(self, "AlarmTopic", config=config)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
