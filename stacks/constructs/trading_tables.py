"""The trading state: fixtures (with the ordering guard and trader settings), the price books, the trader audit."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.config import OnDemandCapacity, ProvisionedCapacity, StageConfig


class TradingTables(Construct):
    """Three DynamoDB tables encrypted with one customer-managed key.

    - ``fixtures``: one item per fixture (partition key ``fixture_id``), holding the match state,
      ``last_sequence`` (the newest feed sequence applied: the ordering and duplicate guard), the trader's
      settings (suspensions, margins, overrides) and ``revision``, one more for every write of either kind.
    - ``prices``: every book priced, keyed by ``fixture_id`` and the ``revision`` that produced it;
      the current book is the item with the highest revision.
    - ``trader_actions``: the audit of trader commands, keyed by ``fixture_id`` and ``action_id``
      (``{requested_at}#{request_id}``, so a fixture's actions sort by time): who, what, before and after.
    """

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig) -> None:
        super().__init__(scope, id_)
        removal_policy = RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY
        self.key = kms.Key(
            self,
            "TablesKey",
            description="Encrypts the trading tables at rest",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )

        # dynamodb.Table rather than TableV2: TableV2 cannot render a customer-managed key in an
        # environment-agnostic stack, and synth here never looks up an account or region.
        def table(table_id: str, *, sort_key: dynamodb.Attribute | None = None) -> dynamodb.Table:
            capacity = config.table_capacity
            on_demand = isinstance(capacity, OnDemandCapacity)
            created = dynamodb.Table(
                self,
                table_id,
                partition_key=dynamodb.Attribute(name="fixture_id", type=dynamodb.AttributeType.STRING),
                sort_key=sort_key,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST if on_demand else dynamodb.BillingMode.PROVISIONED,
                read_capacity=capacity.read_min if isinstance(capacity, ProvisionedCapacity) else None,
                write_capacity=capacity.write_min if isinstance(capacity, ProvisionedCapacity) else None,
                warm_throughput=(
                    dynamodb.WarmThroughput(
                        read_units_per_second=config.table_warm_throughput.read_units_per_second,
                        write_units_per_second=config.table_warm_throughput.write_units_per_second,
                    )
                    if config.table_warm_throughput
                    else None
                ),
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=self.key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                deletion_protection=config.deletion_protection,
                removal_policy=removal_policy,
            )
            if isinstance(capacity, ProvisionedCapacity):
                created.auto_scale_read_capacity(
                    min_capacity=capacity.read_min, max_capacity=capacity.read_max
                ).scale_on_utilization(target_utilization_percent=70)
                created.auto_scale_write_capacity(
                    min_capacity=capacity.write_min, max_capacity=capacity.write_max
                ).scale_on_utilization(target_utilization_percent=70)
            return created

        self.fixtures = table("Fixtures")
        self.prices = table(
            "Prices",
            sort_key=dynamodb.Attribute(name="revision", type=dynamodb.AttributeType.NUMBER),
        )
        self.trader_actions = table(
            "TraderActions",
            sort_key=dynamodb.Attribute(name="action_id", type=dynamodb.AttributeType.STRING),
        )
