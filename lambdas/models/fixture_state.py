"""A fixture's state as the workflows leave it in DynamoDB (the item returned by their conditional updates)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

MatchPhase = Literal["pre_match", "in_play", "half_time", "full_time"]

# Trader settings are top-level attributes of the fixture item, so a command changes one setting with one
# conditional write and the feed workflow's Lambda reads them with the fixture.
# Their names carry the market type (and line and selection), decided by lambdas/domain/trader_rules.py.
MARGIN_ATTRIBUTE_PREFIX = "margin_"
OVERRIDE_ATTRIBUTE_PREFIX = "override#"
NO_LINE = "none"


def margin_attribute(market_type: str) -> str:
    return f"{MARGIN_ATTRIBUTE_PREFIX}{market_type}"


def override_attribute(market_type: str, line: float | None, selection: str) -> str:
    return f"{OVERRIDE_ATTRIBUTE_PREFIX}{market_type}#{NO_LINE if line is None else format(line, 'g')}#{selection}"


OverrideKey = tuple[str, float | None, str]


class PriceOverride(BaseModel):
    """A trader's fixed price: the workflow cannot add times, so it stores when it was set and for how long."""

    model_config = ConfigDict(frozen=True)

    price: Annotated[float, Field(gt=1.0)]
    set_at: AwareDatetime
    for_seconds: Annotated[int, Field(ge=1)]

    @property
    def expires_at(self) -> datetime:
        return self.set_at + timedelta(seconds=self.for_seconds)


class FixtureState(BaseModel):
    """Attribute names are the ones the workflows' update expressions write (statemachines/*.asl.json)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    fixture_id: str
    sport: Literal["football"]
    last_sequence: Annotated[int, Field(ge=1)]
    last_event_type: str
    home_team: str
    away_team: str
    home_goals_expected: Annotated[float, Field(gt=0)]
    away_goals_expected: Annotated[float, Field(gt=0)]
    # Set only when a trader calibrated the pre-match inputs from odds; the pricing model's default otherwise.
    dixon_coles_rho: float | None = None
    match_phase: MatchPhase
    match_minute: Annotated[float, Field(ge=0)] = 0
    home_score: Annotated[int, Field(ge=0)] = 0
    away_score: Annotated[int, Field(ge=0)] = 0
    home_red_cards: Annotated[int, Field(ge=0)] = 0
    away_red_cards: Annotated[int, Field(ge=0)] = 0
    suspension_reason: str | None = None
    # Every write to the fixture (feed event or trader command) adds one: books and publications are ordered by it.
    revision: Annotated[int, Field(ge=0)] = 0
    trader_suspended: bool = False
    suspended_market_types: frozenset[str] = frozenset()
    # Single markets of types with lines, kept as a string set of "type#line" (statemachines/trader_command.asl.json).
    suspended_markets: frozenset[tuple[str, float]] = frozenset()
    margins: dict[str, float] = Field(default_factory=dict)
    price_overrides: dict[OverrideKey, PriceOverride] = Field(default_factory=dict)
    # The feed's finer phase (lambdas/domain/match_phases.py) and the last trader command applied.
    match_period: str | None = None
    last_command_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _collect_setting_attributes(cls, value: Any) -> Any:
        """Gather ``margin_{type}`` and ``override#{type}#{line}#{selection}`` attributes into their maps."""
        if not isinstance(value, dict) or ("margins" in value or "price_overrides" in value):
            return value
        collected = dict(value)
        margins = {}
        overrides = {}
        for name, setting in value.items():
            if name.startswith(MARGIN_ATTRIBUTE_PREFIX):
                margins[name.removeprefix(MARGIN_ATTRIBUTE_PREFIX)] = setting
            elif name.startswith(OVERRIDE_ATTRIBUTE_PREFIX):
                market_type, line, selection = name.removeprefix(OVERRIDE_ATTRIBUTE_PREFIX).split("#", 2)
                overrides[(market_type, None if line == NO_LINE else float(line), selection)] = setting
        collected["margins"] = margins
        collected["price_overrides"] = overrides
        return collected

    @field_validator("suspended_markets", mode="before")
    @classmethod
    def _split_market_keys(cls, value: Any) -> Any:
        if isinstance(value, set | frozenset | list) and all(isinstance(key, str) for key in value):
            return frozenset((market_type, float(line)) for market_type, line in (k.split("#", 1) for k in value))
        return value

    def overrides_in_force(self, at: datetime) -> dict[OverrideKey, float]:
        return {key: override.price for key, override in self.price_overrides.items() if override.expires_at > at}
