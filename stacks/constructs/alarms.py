"""Alarms that tell operators when something was set aside: nothing on a dead-letter queue goes unnoticed."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import StageConfig
from stacks.nag import acknowledge


class AlarmTopic(Construct):
    """The topic every alarm notifies, with the stage's optional e-mail subscription."""

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig) -> None:
        super().__init__(scope, id_)
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts alarm notifications at rest in SNS",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
        )
        # CloudWatch publishes alarm notifications with its own service principal, so the key must let it.
        key.grant_encrypt_decrypt(iam.ServicePrincipal("cloudwatch.amazonaws.com"))
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name="Trading engine alarms",
            master_key=key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            email = subscriptions.EmailSubscription(config.alarm_email)
            self.topic.add_subscription(email)
            for child in self.topic.node.find_all():
                if isinstance(child, sns.CfnSubscription):
                    acknowledge(
                        child,
                        "Serverless-SNSRedrivePolicy",
                        "An undeliverable alarm e-mail leaves the alarm in ALARM on the console; a queue adds nothing",
                    )


class DeadLetterAlarms(Construct):
    """One alarm per dead-letter queue: a single message waiting there is worth a look."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queues: dict[str, sqs.IQueue],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        for name, queue in queues.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{name}NotEmpty",
                alarm_description=f"Messages are waiting on {name}: inspect and replay them",
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
