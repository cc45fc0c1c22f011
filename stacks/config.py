"""Stage configuration, read from cdk.json context only: synth never looks at the environment."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field

# jsii enums carry names, not day counts: the periods a trading team would choose, by days.
_RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OnDemandCapacity(_Frozen):
    mode: Literal["on_demand"]


class ProvisionedCapacity(_Frozen):
    mode: Literal["provisioned"]
    read_min: Annotated[int, Field(ge=1)]
    read_max: Annotated[int, Field(ge=1)]
    write_min: Annotated[int, Field(ge=1)]
    write_max: Annotated[int, Field(ge=1)]


class WarmThroughput(_Frozen):
    """Pre-warmed table throughput; it can be raised later but never lowered again."""

    read_units_per_second: Annotated[int, Field(ge=12000)]
    write_units_per_second: Annotated[int, Field(ge=4000)]


class ApiThrottle(_Frozen):
    """Stage-level API Gateway throttling (requests per second, and the burst above it)."""

    rate_per_second: Annotated[int, Field(ge=1)]
    burst: Annotated[int, Field(ge=1)]


class StageConfig(_Frozen):
    """Everything that differs between dev and prod."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]
    table_capacity: Annotated[OnDemandCapacity | ProvisionedCapacity, Field(discriminator="mode")]
    table_warm_throughput: WarmThroughput | None = None
    deletion_protection: bool
    log_retention_days: int
    xray_sampling_rate: Annotated[float, Field(ge=0.0, le=1.0)]
    pricing_provisioned_concurrency: Annotated[int, Field(ge=0, le=1000)]
    ingest_throttle: ApiThrottle
    # Traders act at human speed; the limit stops a runaway script, not a trading desk.
    trader_api_throttle: ApiThrottle = ApiThrottle(rate_per_second=50, burst=100)
    alarm_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None

    def model_post_init(self, _context: object) -> None:
        if self.log_retention_days not in _RETENTION_BY_DAYS:
            raise ValueError(
                f"log_retention_days: {self.log_retention_days} is not a CloudWatch Logs retention period "
                f"(one of {sorted(_RETENTION_BY_DAYS)})"
            )

    @property
    def retention(self) -> logs.RetentionDays:
        return _RETENTION_BY_DAYS[self.log_retention_days]


def load_stage_config(context: dict, stage: str) -> StageConfig:
    """Read one stage from the `trading-engine:stages` context, failing with the stage's and field's name."""
    stages = context.get("trading-engine:stages") or {}
    if stage not in stages:
        raise ValueError(f"stage: '{stage}' is not in cdk.json context 'trading-engine:stages' ({sorted(stages)})")
    return StageConfig(name=stage, **stages[stage])
