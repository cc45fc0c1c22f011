"""Environment variables of each function, modelled so a missing or bad one fails at cold start with its name."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class IotBridgeEnv(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    IOT_TOPIC_PREFIX: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")]
    # Set locally (the local engine's broker bridge) or to pin an endpoint; otherwise the account's
    # ATS data endpoint is looked up once per cold start.
    IOT_DATA_ENDPOINT: str | None = None


class FixtureTablesEnv(BaseModel):
    """The feed and trader tasks read the fixtures table (and the prices table, for a conflict's original)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    FIXTURES_TABLE_NAME: Annotated[str, Field(min_length=3)]
    PRICES_TABLE_NAME: Annotated[str, Field(min_length=3)]


class TradingQueryEnv(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    FIXTURES_TABLE_NAME: Annotated[str, Field(min_length=3)]
    PRICES_TABLE_NAME: Annotated[str, Field(min_length=3)]


class RealtimeSessionEnv(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    IDENTITY_POOL_ID: Annotated[str, Field(pattern=r"^[\w-]+:[0-9a-f-]+$")]
    # cognito-idp.{region}.amazonaws.com/{user pool id}: the key of the Logins map for GetId.
    USER_POOL_PROVIDER_NAME: Annotated[str, Field(min_length=3)]
    PRICE_FEED_IOT_POLICY_NAME: Annotated[str, Field(min_length=1)]


class CapacityPlannerEnv(BaseModel):
    """The capacity planner's settings, from stacks/config.py BigFixtureCapacity (set by the construct)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    FIXTURES_TABLE_NAME: Annotated[str, Field(min_length=3)]
    KICK_OFF_INDEX_NAME: Annotated[str, Field(min_length=3)]
    WARM_TABLE_NAMES: Annotated[str, Field(min_length=3, description="comma-separated table names")]
    PRICING_FUNCTION_NAME: Annotated[str, Field(min_length=1)]
    PRICING_ALIAS: Annotated[str, Field(min_length=1)]
    SPORTS: Annotated[str, Field(min_length=1, description="comma-separated sports to look at")]
    LEAD_MINUTES: Annotated[int, Field(ge=1)]
    MATCH_LENGTH_MINUTES: Annotated[int, Field(ge=1)]
    FIXTURES_THRESHOLD: Annotated[int, Field(ge=1)]
    BUSY_CONCURRENCY: Annotated[int, Field(ge=1, le=1000)]
    BASELINE_CONCURRENCY: Annotated[int, Field(ge=0, le=1000)]
    # Both set or neither: warm throughput is optional per stage.
    WARM_READS_PER_SECOND: Annotated[int, Field(ge=0)] = 0
    WARM_WRITES_PER_SECOND: Annotated[int, Field(ge=0)] = 0
