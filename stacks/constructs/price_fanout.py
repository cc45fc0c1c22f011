"""Fan-out of published books: one SNS topic feeding the queues that on-prem services poll."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import (
    QUEUE_MAX_RECEIVE_COUNT,
    QUEUE_RETENTION_DAYS,
    QUEUE_VISIBILITY_TIMEOUT_SECONDS,
)
from stacks.nag import acknowledge


@dataclass(frozen=True)
class OnPremConsumer:
    """A queue that on-prem services poll, with the SNS filter that decides what reaches it."""

    id_: str
    filter_policy: dict[str, sns.SubscriptionFilter] | None


# AWS never connects into the estate: results leave only through these queues, polled from on-prem.
ON_PREM_CONSUMERS = (
    # Every published book, for the on-prem price distribution.
    OnPremConsumer("OnPremPrices", None),
    # Each finished match's result, for settlement: the final book (full time) and every correction of it (a goal
    # or card counted after full time), told apart by the book's result kind and revision.
    OnPremConsumer(
        "OnPremSettlement",
        {"result": sns.SubscriptionFilter.string_filter(allowlist=["final", "correction"])},
    ),
)


class PriceFanout(Construct):
    """The price topic (KMS-encrypted, TLS only) and one queue with a dead-letter queue per on-prem consumer."""

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig) -> None:
        super().__init__(scope, id_)
        self.topic_key = kms.Key(
            self,
            "PriceTopicKey",
            description="Encrypts price messages at rest in SNS",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self,
            "PriceTopic",
            display_name="Published price books",
            master_key=self.topic_key,
            enforce_ssl=True,
            tracing_config=sns.TracingConfig.ACTIVE,
        )
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for consumer in ON_PREM_CONSUMERS:
            dead_letters = encrypted_queue(self, f"{consumer.id_}DeadLetters")
            for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
                acknowledge(dead_letters, rule, "This is the dead-letter queue of the on-prem queue beside it")
            queue = encrypted_queue(
                self,
                f"{consumer.id_}Queue",
                dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=QUEUE_MAX_RECEIVE_COUNT),
            )
            # Raw delivery: on-prem consumers read the book itself, not an SNS envelope around it. A message
            # SNS cannot deliver (queue policy or key trouble) is kept on the same dead-letter queue.
            self.topic.add_subscription(
                subscriptions.SqsSubscription(
                    queue,
                    raw_message_delivery=True,
                    filter_policy=consumer.filter_policy,
                    dead_letter_queue=dead_letters,
                )
            )
            self.queues[consumer.id_] = queue
            self.dead_letter_queues[consumer.id_] = dead_letters
        # The identity the on-prem outbound poller signs with: receive and delete on the on-prem queues,
        # nothing else (the queues use SQS-managed keys, so no KMS grant is needed to read them).
        # Principals of this account assume it (the poller's own credentials, e.g. IAM Roles Anywhere).
        self.poller_role = iam.Role(
            self,
            "OnPremPollerRole",
            assumed_by=iam.AccountRootPrincipal(),
            description="Assumed by the on-prem outbound poller: receive/delete on the on-prem queues only",
            max_session_duration=Duration.hours(1),
        )
        for queue in self.queues.values():
            queue.grant_consume_messages(self.poller_role)


def encrypted_queue(scope: Construct, id_: str, *, dead_letter_queue: sqs.DeadLetterQueue | None = None) -> sqs.Queue:
    """An SQS queue as every queue here is: SQS-managed encryption, TLS only, two weeks' retention.

    SQS-managed keys, because SNS cannot deliver into a queue encrypted with the AWS-managed KMS key.
    """
    return sqs.Queue(
        scope,
        id_,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(QUEUE_RETENTION_DAYS),
        visibility_timeout=Duration.seconds(QUEUE_VISIBILITY_TIMEOUT_SECONDS),
        dead_letter_queue=dead_letter_queue,
    )
