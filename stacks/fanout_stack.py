"""Deployment unit: fan-out of published books to the on-prem queues and to IoT Core."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.alarms import DeadLetterAlarms
from stacks.constructs.iot_bridge import IotBridge
from stacks.constructs.price_fanout import PriceFanout


class FanoutStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        alarm_topic: sns.ITopic,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.fanout = PriceFanout(self, "PriceFanout", config=config)
        self.iot_bridge = IotBridge(self, "IotBridge", config=config, topic=self.fanout.topic)
        DeadLetterAlarms(
            self,
            "DeadLetterAlarms",
            queues={
                **{f"{name}DeadLetters": queue for name, queue in self.fanout.dead_letter_queues.items()},
                "IotBridgeFailedPublications": self.iot_bridge.dead_letters,
            },
            alarm_topic=alarm_topic,
        )
        CfnOutput(self, "PriceTopicArn", value=self.fanout.topic.topic_arn)
        for name, queue in self.fanout.queues.items():
            CfnOutput(self, f"{name}QueueUrl", value=queue.queue_url)
        CfnOutput(self, "OnPremPollerRoleArn", value=self.fanout.poller_role.role_arn)
