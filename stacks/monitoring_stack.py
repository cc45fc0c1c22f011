"""Deployment unit: the stage's dashboard, service alarms and saved queries, over every other stack.

It is built after the other stacks so it can find their workflows, functions and queues; the alarm topic
stays in the operations stack, which every other stack depends on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import StageConfig
from stacks.constructs.operations_dashboard import OperationsDashboard


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        watched_stacks: Sequence[Stack],
        alarm_topic: sns.ITopic,
        feed_log_group: logs.ILogGroup,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.dashboard = OperationsDashboard(
            self,
            "OperationsDashboard",
            query_folder=f"trading-engine-{config.name}",
            watched_stacks=watched_stacks,
            alarm_topic=alarm_topic,
            feed_log_group=feed_log_group,
            latency_alarm_p99_ms=config.latency_alarm_p99_ms,
        )
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)
