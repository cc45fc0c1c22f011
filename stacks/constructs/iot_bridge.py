"""The one Lambda subscribed to the price topic: it republishes each book to IoT Core over MQTT."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import (
    IOT_BRIDGE_MEMORY_MB,
    IOT_BRIDGE_TIMEOUT_SECONDS,
    IOT_PRICE_TOPIC_PREFIX,
)
from stacks.constructs.lambda_function import engine_function
from stacks.constructs.price_fanout import encrypted_queue
from stacks.nag import acknowledge


class IotBridge(Construct):
    """Publishes every price message to ``trading/v1/fixtures/{fixture_id}/prices`` (QoS 1, not retained).

    Failed deliveries are retried by Lambda's asynchronous invocation, then kept on a dead-letter queue.
    """

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, topic: sns.ITopic) -> None:
        super().__init__(scope, id_)
        self.dead_letters = encrypted_queue(self, "FailedPublications")
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(self.dead_letters, rule, "This is the dead-letter queue of the IoT bridge's deliveries")
        self.function = engine_function(
            self,
            "PublishPricesToIot",
            handler="lambdas.handlers.publish_prices_to_iot.handler",
            description="Republishes each price message from SNS to the IoT Core MQTT topic of its fixture",
            config=config,
            memory_size=IOT_BRIDGE_MEMORY_MB,
            timeout_seconds=IOT_BRIDGE_TIMEOUT_SECONDS,
            environment={"IOT_TOPIC_PREFIX": IOT_PRICE_TOPIC_PREFIX},
        )
        # Events whose asynchronous retries are spent go to the failure destination; the subscription's
        # dead-letter queue takes the messages SNS could not hand to Lambda at all. Both are the same queue.
        self.function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=Duration.minutes(10),
            on_failure=destinations.SqsDestination(self.dead_letters),
        )
        acknowledge(
            self.function,
            "Serverless-LambdaDLQ",
            "Its asynchronous failures go to an on-failure destination (the same queue), which supersedes a DLQ",
        )
        topic.add_subscription(subscriptions.LambdaSubscription(self.function, dead_letter_queue=self.dead_letters))
        # No grant_* exists for IoT Core: publish is allowed on the price topic hierarchy only. Not iot:RetainPublish:
        # the bridge does not retain (a wildcard subscriber never gets retained messages in IoT Core; see
        # lambdas/adapters/iot_publisher.py), and AWS refuses a retained publish without it.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iot:Publish"],
                resources=[
                    Stack.of(self).format_arn(
                        service="iot",
                        resource="topic",
                        resource_name=f"{IOT_PRICE_TOPIC_PREFIX}/*",
                    )
                ],
            )
        )
        # The bridge looks up the account's IoT data endpoint once per cold start.
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["iot:DescribeEndpoint"], resources=["*"]))
        acknowledge(
            self.function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            "iot:DescribeEndpoint and X-Ray tracing support no resource-level permissions",
        )
        acknowledge(
            self.function.role,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/{IOT_PRICE_TOPIC_PREFIX}/*]",
            "Publishes to every fixture's topic under the price prefix; fixture ids are data, not resources",
        )
