"""The feed workflow: one EXPRESS execution per feed event, defined in statemachines/feed_event.asl.json."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_xray as xray
from constructs import Construct

from stacks.config import StageConfig
from stacks.constants import (
    PRICING_ALIAS_NAME,
    PRICING_FUNCTION_MEMORY_MB,
    PRICING_FUNCTION_TIMEOUT_SECONDS,
    STATE_MACHINES_DIR,
)
from stacks.constructs.express_workflow import express_workflow
from stacks.constructs.lambda_function import engine_function
from stacks.constructs.price_fanout import encrypted_queue
from stacks.nag import acknowledge

FEED_EVENT_DEFINITION = STATE_MACHINES_DIR / "feed_event.asl.json"


class FeedWorkflow(Construct):
    """Decide one feed event (the domain core, in the ApplyFeedEvent Lambda), write it under the fixture's
    revision, then store, claim and publish its book.

    The definition is inlined (``DefinitionBody.from_string``), so the synthesized template, its
    snapshot and cfn-lint all see the real states. Every integration is granted explicitly.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        fixtures: dynamodb.ITable,
        prices: dynamodb.ITable,
        price_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        self.pricing_function = engine_function(
            self,
            "ApplyFeedEvent",
            handler="lambdas.handlers.apply_feed_event.handler",
            description="Decides a feed event with the domain core and prices the book (the hot path Lambda)",
            config=config,
            memory_size=PRICING_FUNCTION_MEMORY_MB,
            timeout_seconds=PRICING_FUNCTION_TIMEOUT_SECONDS,
            environment={"FIXTURES_TABLE_NAME": fixtures.table_name, "PRICES_TABLE_NAME": prices.table_name},
        )
        # The workflow always calls the alias, so provisioned concurrency (prod) is used when configured.
        self.pricing_alias = lambda_.Alias(
            self,
            "ApplyFeedEventLive",
            alias_name=PRICING_ALIAS_NAME,
            version=self.pricing_function.current_version,
            provisioned_concurrent_executions=config.pricing_provisioned_concurrency or None,
        )
        # It reads the fixture (and, for a conflicting event, the original's stored book) itself, so the whole
        # item never rides in the workflow's state data. Items only: no index is read.
        for table in (fixtures, prices):
            iam.Grant.add_to_principal(
                grantee=self.pricing_function, actions=["dynamodb:GetItem"], resource_arns=[table.table_arn]
            )
            if table.encryption_key is not None:
                table.encryption_key.grant_decrypt(self.pricing_function)
        self.quarantine = encrypted_queue(self, "QuarantinedEvents")
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.quarantine,
                rule,
                "This queue is the workflow's dead-letter queue; Step Functions writes it, operators replay from it",
            )
        acknowledge(
            self.pricing_function,
            "Serverless-LambdaDLQ",
            "Invoked synchronously by the workflow, whose Catch quarantines the event: a DLQ would never receive",
        )
        self.state_machine, self.log_group = express_workflow(
            self,
            "FeedEvent",
            definition_file=FEED_EVENT_DEFINITION,
            substitutions={
                "FixturesTableName": fixtures.table_name,
                "PricesTableName": prices.table_name,
                "ApplyFeedEventFunctionArn": self.pricing_alias.function_arn,
                "PriceTopicArn": price_topic.topic_arn,
                "QuarantineQueueUrl": self.quarantine.queue_url,
            },
            config=config,
        )
        # On the table only: table.grant() would add the table's indexes, which these item calls never touch.
        iam.Grant.add_to_principal(
            grantee=self.state_machine,
            actions=["dynamodb:UpdateItem"],
            resource_arns=[fixtures.table_arn],
        )
        prices.grant(self.state_machine, "dynamodb:PutItem")
        for table in (fixtures, prices):
            if table.encryption_key is not None:
                table.encryption_key.grant_encrypt_decrypt(self.state_machine)
        self.pricing_alias.grant_invoke(self.state_machine)
        price_topic.grant_publish(self.state_machine)
        # Send only: grant_send_messages adds sqs:GetQueueAttributes and sqs:GetQueueUrl, which the workflow never
        # calls (make iam-check), and the queue's SQS-managed encryption needs no KMS grant.
        iam.Grant.add_to_principal(
            grantee=self.state_machine, actions=["sqs:SendMessage"], resource_arns=[self.quarantine.queue_arn]
        )
        # Step Functions is traced through the account's X-Ray sampling rules: this one sets the stage's rate
        # for this state machine only (rules are account-wide unless scoped by resource ARN).
        xray.CfnSamplingRule(
            self,
            "WorkflowSampling",
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=f"trading-{config.name}-workflows",
                priority=100,
                fixed_rate=config.xray_sampling_rate,
                reservoir_size=1,
                service_name="*",
                service_type="AWS::StepFunctions::StateMachine",
                host="*",
                http_method="*",
                url_path="*",
                resource_arn=self.state_machine.state_machine_arn,
                version=1,
            ),
        )
