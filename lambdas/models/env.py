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
