"""What the feed rules know of a fixture: the attributes the feed owns on the fixture item.

The fixture item also holds trader settings (margins, suspensions, overrides), which the feed rules never read
or write; a feed event's write sets only the attributes below that changed (lambdas/adapters/fixture_store.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer, field_validator

from lambdas.domain.match_phases import PRICING_PHASE, Period

# How many of the newest applied events a fixture remembers to tell a redelivery from a conflicting event with
# the same sequence or event id; older non-counting events are only ever stale. Goals and cards are remembered
# for the whole match (they can arrive late and must be counted once), up to MAX_COUNTED_INCIDENTS.
RECENT_EVENTS_KEPT = 16
MAX_COUNTED_INCIDENTS = 100


class RecordedEvent(BaseModel):
    """An applied event as the fixture remembers it: stored as ``"{sequence} {event_id} {digest} {revision}"``."""

    model_config = ConfigDict(frozen=True)

    sequence: int
    event_id: str
    digest: Annotated[str, Field(description="sha256 of the event's canonical JSON, first 16 hex digits")]
    revision: Annotated[int, Field(description="The fixture revision its write produced (its book's key)")]

    def as_text(self) -> str:
        return f"{self.sequence} {self.event_id} {self.digest} {self.revision}"

    @classmethod
    def from_text(cls, text: str) -> RecordedEvent:
        sequence, event_id, digest, revision = text.split(" ")
        return cls(sequence=int(sequence), event_id=event_id, digest=digest, revision=int(revision))


class PhaseChange(BaseModel):
    """The period a fixture entered at a sequence: stored as ``"{sequence} {period}"``."""

    model_config = ConfigDict(frozen=True)

    sequence: int
    period: Period

    def as_text(self) -> str:
        return f"{self.sequence} {self.period}"

    @classmethod
    def from_text(cls, text: str) -> PhaseChange:
        sequence, period = text.split(" ")
        return cls.model_validate({"sequence": int(sequence), "period": period})


class FeedState(BaseModel):
    """The feed-owned attributes of a fixture item (names as stored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    fixture_id: str
    sport: str = "football"
    competition: str
    home_team: str
    away_team: str
    kick_off_at: str
    home_goals_expected: float
    away_goals_expected: float
    # Set by a trader's calibration from odds; a feed correction of the fixture drops it.
    dixon_coles_rho: float | None = None
    match_period: Period
    match_minute: Annotated[int, Field(ge=0)] = 0
    home_score: Annotated[int, Field(ge=0)] = 0
    away_score: Annotated[int, Field(ge=0)] = 0
    home_red_cards: Annotated[int, Field(ge=0)] = 0
    away_red_cards: Annotated[int, Field(ge=0)] = 0
    home_yellow_cards: Annotated[int, Field(ge=0)] = 0
    away_yellow_cards: Annotated[int, Field(ge=0)] = 0
    suspension_reason: str | None = None
    last_sequence: Annotated[int, Field(ge=1)]
    last_event_id: str
    last_event_type: str
    # Every write to the fixture (feed event or trader command) adds one: the optimistic-concurrency version,
    # and the order of books.
    revision: Annotated[int, Field(ge=1)]
    # The newest revision claimed for publication (written by the workflows' ClaimPublication).
    published_revision: int | None = None
    # 0 before full time; 1 for the final result; each correction of a finished match's score or cards adds one.
    result_revision: Annotated[int, Field(ge=0)] = 0
    updated_at: AwareDatetime
    recent_events: tuple[RecordedEvent, ...] = ()
    counted_incidents: tuple[RecordedEvent, ...] = ()
    phase_changes: tuple[PhaseChange, ...] = ()

    @property
    def match_phase(self) -> str:
        return PRICING_PHASE[self.match_period]

    @field_validator("recent_events", "counted_incidents", mode="before")
    @classmethod
    def _recorded_from_text(cls, value: Any) -> Any:
        return tuple(RecordedEvent.from_text(v) if isinstance(v, str) else v for v in value)

    @field_validator("phase_changes", mode="before")
    @classmethod
    def _phase_changes_from_text(cls, value: Any) -> Any:
        return tuple(PhaseChange.from_text(v) if isinstance(v, str) else v for v in value)

    @field_serializer("recent_events", "counted_incidents")
    def _recorded_as_text(self, value: tuple[RecordedEvent, ...]) -> list[str]:
        return [recorded.as_text() for recorded in value]

    @field_serializer("phase_changes")
    def _phase_changes_as_text(self, value: tuple[PhaseChange, ...]) -> list[str]:
        return [change.as_text() for change in value]

    def attributes(self) -> dict[str, Any]:
        """The item attributes as stored (plain values; ``match_phase`` is the pricing model's phase)."""
        stored = self.model_dump(mode="json")
        stored["match_phase"] = self.match_phase
        return stored

    def period_at(self, sequence: int) -> Period:
        """The period the fixture was in just before ``sequence`` (from the recorded phase changes)."""
        period: Period = "none"
        for change in sorted(self.phase_changes, key=lambda change: change.sequence):
            if change.sequence >= sequence:
                break
            period = change.period
        return period

    def recorded(self) -> tuple[RecordedEvent, ...]:
        return self.recent_events + self.counted_incidents
