"""The price message: the full book of one fixture, as stored, published to SNS and relayed over MQTT."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

FixtureStatus = Literal["open", "suspended", "closed"]
MarketStatus = Literal["open", "suspended", "closed", "settled"]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PricedSelection(_Message):
    name: str
    fair_probability: Annotated[Probability, Field(description="From the score matrix, margin-free")]
    probability: Annotated[Probability, Field(description="Offered probability after margin: 1 / price")]
    price: Annotated[float, Field(ge=1.0, description="Decimal odds")]


class PricedMarket(_Message):
    type: str
    line: Annotated[float | None, Field(description="None for markets without a line; handicaps from the home side")]
    status: MarketStatus
    selections: tuple[PricedSelection, ...]


class Score(_Message):
    home: Annotated[int, Field(ge=0)]
    away: Annotated[int, Field(ge=0)]


class SourceEvent(_Message):
    """What produced this book: a feed event (lets subscribers measure feed-to-screen latency) or a trader
    command (``type`` is ``trader:{command}``, ``event_id`` the API request id)."""

    event_id: str
    type: str
    occurred_at: AwareDatetime


class MatchResult(_Message):
    """A finished match's result as this book states it: ``final`` (revision 1), then each ``correction``
    (a goal or card counted after full time) with the next revision. Settlement keeps the highest revision."""

    kind: Literal["final", "correction"]
    revision: Annotated[int, Field(ge=1)]


class PriceMessage(_Message):
    fixture_id: str
    sport: Literal["football"]
    sequence: Annotated[int, Field(ge=1, description="The newest feed sequence applied to the fixture")]
    revision: Annotated[
        int, Field(ge=0, description="Writes to the fixture so far (feed events and trader commands): orders books")
    ]
    generated_at: AwareDatetime
    status: FixtureStatus
    phase: Literal["pre_match", "in_play", "half_time", "full_time"]
    minute: Annotated[float, Field(ge=0)]
    score: Score
    home_team: str
    away_team: str
    source_event: SourceEvent
    markets: tuple[PricedMarket, ...]
    result: Annotated[MatchResult | None, Field(description="Set once the match is finished")] = None
