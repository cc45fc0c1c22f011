"""The feed rules: given a fixture's feed state and one raw feed event, the new state and a decision.

``decide_feed_event`` never raises on input: every event, however malformed, gets exactly one decision.

Decisions (``FeedDecision.outcome``):

- ``applied``: a newer event, legal in the fixture's period: the new state is written and its book published;
- ``late_counted``: a goal or card older than the fixture's newest event, counted now because the match was in
  play at its sequence; after full time it corrects the result (``result_revision`` + 1);
- ``duplicate``: this very event (same sequence, event id and content) was applied already; if the book of that
  write never went out, ``republish`` asks for it to be priced and published again;
- ``stale``: an older event that is not a counter (a clock tick, a phase change) overtaken by a newer one;
- ``conflict``: another event was applied under this sequence or this event id (``ConflictingDuplicate``);
- ``illegal_transition``: the event is not legal in the fixture's period (``UnknownFixture``, ``NotInPlay``,
  ``IllegalTransition``), with that period;
- ``invalid``: a field the model refuses (``MalformedEvent``), named with the reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from lambdas.domain.fixture import (
    MAX_COUNTED_INCIDENTS,
    RECENT_EVENTS_KEPT,
    FeedState,
    PhaseChange,
    RecordedEvent,
)
from lambdas.domain.match_phases import COUNTING_TYPES, IN_PLAY, MINUTES_IN_PERIOD, TRANSITIONS, Period, refusal_for
from lambdas.models.feed_events import FeedEvent, FixtureCreated

Outcome = Literal["applied", "late_counted", "duplicate", "stale", "conflict", "illegal_transition", "invalid"]

# A feed's clock may run a little ahead of ours; an event stamped later than this is refused as impossible.
MAX_CLOCK_SKEW = timedelta(days=1)
# Fixtures are created up to this long before they kick off.
MAX_KICK_OFF_AHEAD = timedelta(days=2 * 366)
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)

_FEED_EVENT = TypeAdapter(FeedEvent)


@dataclass(frozen=True)
class FeedDecision:
    """What to do with one feed event. ``state`` is the fixture's feed state after it (unchanged unless the
    outcome is ``applied`` or ``late_counted``); ``error``, ``field`` and ``reason`` explain a refusal."""

    outcome: Outcome
    state: FeedState | None
    error: str | None = None
    field: str | None = None
    reason: str | None = None
    period: Period | None = None
    republish: bool = False
    corrected_result: bool = False
    # A conflict: the applied event this one collides with.
    original: RecordedEvent | None = None

    @property
    def writes(self) -> bool:
        return self.outcome in ("applied", "late_counted")

    @property
    def cause(self) -> str:
        """The quarantine message's cause: ``field: reason``."""
        return f"{self.field}: {self.reason}" if self.field else str(self.reason)


@dataclass(frozen=True)
class ValidEvent:
    """A feed event the model accepts, with the raw body's digest (sha256 of its canonical JSON)."""

    event: Any  # one of lambdas.models.feed_events' event models
    canonical: str  # the raw body as canonical JSON (sorted keys, no spaces)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical.encode()).hexdigest()[:16]


def validate_feed_event(raw: Any, *, now: datetime) -> ValidEvent | FeedDecision:
    """Parse ``raw`` with the feed event models and the rules no schema can state (timestamps that exist)."""
    if not isinstance(raw, dict):
        return _invalid("event", "must be a JSON object")
    try:
        event = _FEED_EVENT.validate_python(raw)
    except ValidationError as error:
        return _invalid(*_first_error(error))
    except (OverflowError, ValueError, TypeError, RecursionError) as error:  # pragma: no cover - pydantic's own
        return _invalid("event", f"cannot be read ({type(error).__name__})")
    checked = _check_timestamps(event, now)
    if checked is not None:
        return checked
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return ValidEvent(event=event, canonical=canonical)


def decide_feed_event(state: FeedState | None, raw: Any, *, now: datetime) -> FeedDecision:
    """Decide one raw feed event against the fixture's feed state (None: no such fixture yet).

    Parameters
    ----------
    state
        The fixture's feed state as stored, or None when the fixture does not exist.
    raw
        The event as received (any JSON value).
    now
        When the decision is made (timezone-aware): stamps the new state and bounds the event's timestamps.
    """
    valid = validate_feed_event(raw, now=now)
    if isinstance(valid, FeedDecision):
        return replace(valid, state=state)
    return decide_valid_event(state, valid, now=now)


def decide_valid_event(state: FeedState | None, valid: ValidEvent, *, now: datetime) -> FeedDecision:
    """``decide_feed_event`` for an event that passed ``validate_feed_event``."""
    event = valid.event
    if state is None:
        if isinstance(event, FixtureCreated):
            return FeedDecision("applied", _created(event, valid.digest, now))
        return _illegal(None, event, "none")
    if state.fixture_id != event.fixture_id:
        return _invalid("fixture_id", f"is {event.fixture_id!r}, not this fixture's {state.fixture_id!r}", state)
    seen = _seen(state, event, valid.digest)
    if seen is not None:
        return seen
    if event.sequence < state.last_sequence:
        return _older(state, event, valid.digest, now)
    return _newer(state, event, valid.digest, now)


def _seen(state: FeedState, event: Any, digest: str) -> FeedDecision | None:
    """A redelivery (duplicate) or a collision with a remembered event (conflict), else None."""
    for recorded in state.recorded():
        same_sequence = recorded.sequence == event.sequence
        same_id = recorded.event_id == event.event_id
        if not (same_sequence or same_id):
            continue
        if same_sequence and same_id and recorded.digest == digest:
            unpublished = (
                recorded.revision == state.revision
                and event.sequence == state.last_sequence
                and (state.published_revision or 0) < state.revision
            )
            return FeedDecision("duplicate", state, republish=unpublished)
        if same_sequence:
            field, reason = (
                "sequence",
                (
                    f"{event.sequence} was applied as event {recorded.event_id} (digest {recorded.digest}); "
                    f"this event {event.event_id} (digest {digest}) differs"
                ),
            )
        else:
            field, reason = (
                "event_id",
                (f"{event.event_id} was applied under sequence {recorded.sequence}, not {event.sequence}"),
            )
        return FeedDecision(
            "conflict", state, error="ConflictingDuplicate", field=field, reason=reason, original=recorded
        )
    if event.sequence == state.last_sequence:
        # The newest event is always remembered, so this can only be an item written before the ledger existed.
        return FeedDecision("stale", state, reason=f"sequence {event.sequence} is the fixture's newest already")
    return None


def _older(state: FeedState, event: Any, digest: str, now: datetime) -> FeedDecision:
    """An event older than the fixture's newest: counters are counted late, anything else is stale."""
    if event.type not in COUNTING_TYPES:
        return FeedDecision(
            "stale", state, reason=f"sequence {event.sequence} is older than the fixture's {state.last_sequence}"
        )
    period = state.period_at(event.sequence)
    if period not in IN_PLAY:
        # Before the fixture existed counts as before kick-off: the fixture exists now.
        return _illegal(state, event, "pre_match" if period == "none" else period, at_sequence=event.sequence)
    bad_minute = _check_minute(event, period, state)
    if bad_minute is not None:
        return bad_minute
    if len(state.counted_incidents) >= MAX_COUNTED_INCIDENTS:
        return _too_many_incidents(state)
    corrected = state.match_period == "full_time"
    counted = _count(state, event)
    new_state = _record(
        counted.model_copy(
            update={"result_revision": state.result_revision + 1} if corrected else {},
        ),
        event,
        digest,
        now,
        newest=False,
    )
    return FeedDecision("late_counted", new_state, corrected_result=corrected)


def _newer(state: FeedState, event: Any, digest: str, now: datetime) -> FeedDecision:
    """The newest event so far: legal in the current period, or refused with it."""
    period = state.match_period
    if refusal_for(event.type, period) is not None:
        return _illegal(state, event, period)
    bad_minute = _check_minute(event, period, state)
    if bad_minute is not None:
        return bad_minute
    if event.type in COUNTING_TYPES and len(state.counted_incidents) >= MAX_COUNTED_INCIDENTS:
        return _too_many_incidents(state)
    new_state = _record(_effect(state, event), event, digest, now, newest=True)
    return FeedDecision("applied", new_state)


def _effect(state: FeedState, event: Any) -> FeedState:
    """What a legal newest event changes (the transition table's effect column)."""
    changes: dict[str, Any]
    match event.type:
        case "fixture_created":
            changes = {
                **_details(event),
                "dixon_coles_rho": None,
            }
        case "kick_off":
            changes = {"match_minute": 0, "suspension_reason": None}
        case "goal" | "card":
            return _count(state, event).model_copy(
                update={"match_minute": event.minute} | _suspension_of(event, state.suspension_reason)
            )
        case "penalty_awarded" | "var_check":
            changes = {"match_minute": event.minute, "suspension_reason": event.type}
        case "clock":
            changes = {"match_minute": event.minute, "suspension_reason": None}
        case "half_time":
            changes = {"match_minute": 45}
        case "second_half_kick_off":
            changes = {"match_minute": 45, "suspension_reason": None}
        case "full_time":
            # 1 the first time; after an operator reopened the match, its next full time corrects the result.
            changes = {"suspension_reason": None, "result_revision": state.result_revision + 1}
        case _:  # pragma: no cover - the models admit no other type
            raise AssertionError(event.type)
    to_period = TRANSITIONS[event.type].to_period
    if to_period is not None and to_period != state.match_period:
        changes["match_period"] = to_period
        changes["phase_changes"] = (*state.phase_changes, PhaseChange(sequence=event.sequence, period=to_period))
    return state.model_copy(update=changes)


def _suspension_of(event: Any, current: str | None) -> dict[str, Any]:
    if event.type == "goal":
        return {"suspension_reason": "goal"}
    if event.colour == "red":
        return {"suspension_reason": "red_card"}
    return {"suspension_reason": current}


def _count(state: FeedState, event: Any) -> FeedState:
    """A goal or card added to its counter (on time or late)."""
    counter = f"{event.team}_score" if event.type == "goal" else f"{event.team}_{event.colour}_cards"
    return state.model_copy(update={counter: getattr(state, counter) + 1})


def _record(state: FeedState, event: Any, digest: str, now: datetime, *, newest: bool) -> FeedState:
    """One more revision, stamped ``now``, with the event remembered (and, if newest, as the last one)."""
    revision = state.revision + 1
    recorded = RecordedEvent(sequence=event.sequence, event_id=event.event_id, digest=digest, revision=revision)
    update: dict[str, Any] = {"revision": revision, "updated_at": now}
    if event.type in COUNTING_TYPES:
        update["counted_incidents"] = (*state.counted_incidents, recorded)
    else:
        update["recent_events"] = (*state.recent_events, recorded)[-RECENT_EVENTS_KEPT:]
    if newest:
        update |= {"last_sequence": event.sequence, "last_event_id": event.event_id, "last_event_type": event.type}
    return state.model_copy(update=update)


def _created(event: FixtureCreated, digest: str, now: datetime) -> FeedState:
    return FeedState(
        fixture_id=event.fixture_id,
        sport=event.sport,
        **_details(event),
        match_period="pre_match",
        last_sequence=event.sequence,
        last_event_id=event.event_id,
        last_event_type=event.type,
        revision=1,
        updated_at=now,
        recent_events=(RecordedEvent(sequence=event.sequence, event_id=event.event_id, digest=digest, revision=1),),
        phase_changes=(PhaseChange(sequence=event.sequence, period="pre_match"),),
    )


def _details(event: FixtureCreated) -> dict[str, Any]:
    return {
        "competition": event.competition,
        "home_team": event.home_team,
        "away_team": event.away_team,
        "kick_off_at": event.kick_off_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "home_goals_expected": event.home_goals_expected,
        "away_goals_expected": event.away_goals_expected,
    }


def _check_minute(event: Any, period: Period, state: FeedState) -> FeedDecision | None:
    minute = getattr(event, "minute", None)
    if minute is None or period not in MINUTES_IN_PERIOD:
        return None
    low, high = MINUTES_IN_PERIOD[period]
    if low <= minute <= high:
        return None
    return _invalid("minute", f"{minute} is outside the {period.replace('_', ' ')} ({low} to {high})", state)


def _check_timestamps(event: Any, now: datetime) -> FeedDecision | None:
    stamps = {"occurred_at": (event.occurred_at, now + MAX_CLOCK_SKEW)}
    if isinstance(event, FixtureCreated):
        stamps["kick_off_at"] = (event.kick_off_at, now + MAX_KICK_OFF_AHEAD)
    for field, (moment, latest) in stamps.items():
        try:
            utc = moment.astimezone(UTC)
        except OverflowError:
            return _invalid(field, "is not a time that exists in UTC")
        if not EARLIEST_TIMESTAMP <= utc <= latest:
            return _invalid(
                field, f"{utc.isoformat()} is outside {EARLIEST_TIMESTAMP.isoformat()} to {latest.isoformat()}"
            )
    return None


def _illegal(state: FeedState | None, event: Any, period: Period, *, at_sequence: int | None = None) -> FeedDecision:
    error = refusal_for(event.type, period)
    if period == "none":
        field, reason = "fixture_id", f"{event.fixture_id} does not exist: no fixture_created came first"
    elif at_sequence is not None:
        field = "type"
        reason = f"{event.type} is not legal: at sequence {at_sequence} the fixture was in phase {period}"
    else:
        field, reason = "type", f"{event.type} is not legal in phase {period}"
    return FeedDecision("illegal_transition", state, error=error, field=field, reason=reason, period=period)


def _too_many_incidents(state: FeedState) -> FeedDecision:
    return _invalid("type", f"the fixture has {MAX_COUNTED_INCIDENTS} goals and cards already", state)


def _invalid(field: str, reason: str, state: FeedState | None = None) -> FeedDecision:
    return FeedDecision("invalid", state, error="MalformedEvent", field=field, reason=reason)


def _first_error(error: ValidationError) -> tuple[str, str]:
    """The first error's field path (without the discriminator's tag) and message."""
    first = error.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"]]
    if location and location[0] in TRANSITIONS:
        location = location[1:]
    if first["type"] in ("union_tag_not_found", "union_tag_invalid"):
        location = ["type"]
    return ".".join(location) or "event", first["msg"]


def reopened(state: FeedState, *, now: datetime) -> FeedState:
    """A finished match back in the second half (an operator's correction, lambdas/domain/trader_rules.py): the
    feed's next events apply again, and its next full time is a correction of the result."""
    return state.model_copy(
        update={
            "match_period": "second_half",
            "phase_changes": (*state.phase_changes, PhaseChange(sequence=state.last_sequence, period="second_half")),
            "updated_at": now,
        }
    )
