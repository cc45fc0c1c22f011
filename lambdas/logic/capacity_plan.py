"""Capacity before big fixtures: when enough fixtures kick off together, warm the tables and the pricing Lambda.

Pure functions over plain values; the handler (lambdas/handlers/plan_capacity.py) reads the fixtures and the
current capacity, and applies what these functions decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Kick-off times are stored as the feed sent them (ISO 8601 with any UTC offset), so they sort by local time:
# a query over the stored strings is widened by the largest offset and the exact window is applied after parsing.
MAX_UTC_OFFSET = timedelta(hours=14)


@dataclass(frozen=True)
class CapacitySettings:
    """The stage's big-fixture capacity (stacks/config.py BigFixtureCapacity), as the function reads it."""

    lead: timedelta  # how long before kick-off capacity must be in place
    match_length: timedelta  # how long after kick-off a fixture still counts as live
    fixtures_threshold: int  # fixtures live or about to kick off together that make a busy window
    busy_concurrency: int  # provisioned concurrency of the pricing alias during a busy window
    baseline_concurrency: int  # the stage's own provisioned concurrency (0 = none), restored afterwards
    warm_reads_per_second: int | None  # table warm throughput during a busy window (raise only); None = leave
    warm_writes_per_second: int | None


@dataclass(frozen=True)
class ScheduledFixture:
    fixture_id: str
    kick_off_at: datetime
    match_phase: str | None = None


@dataclass(frozen=True)
class CapacityPlan:
    busy: bool
    fixtures: tuple[str, ...]  # the fixtures live or kicking off within the lead time
    provisioned_concurrency: int  # what the pricing alias should have
    warm_throughput: tuple[int, int] | None  # (reads, writes) per second the tables should have at least


def query_window(now: datetime, settings: CapacitySettings) -> tuple[datetime, datetime]:
    """The kick-off times that matter now: from ``match_length`` ago (still live) to ``lead`` ahead."""
    return now - settings.match_length, now + settings.lead


def plan_capacity(now: datetime, fixtures: list[ScheduledFixture], settings: CapacitySettings) -> CapacityPlan:
    """Decide the capacity for the next interval.

    A fixture counts when its kick-off lies in :func:`query_window` and it has not reached full time. With at
    least ``fixtures_threshold`` of them the window is busy: the busy concurrency and warm throughput apply;
    otherwise the stage's baseline concurrency and no warm-throughput change.
    """
    start, end = query_window(now, settings)
    counted = sorted(
        fixture.fixture_id
        for fixture in fixtures
        if start <= fixture.kick_off_at <= end and fixture.match_phase != "full_time"
    )
    busy = len(counted) >= settings.fixtures_threshold
    warm = (
        (settings.warm_reads_per_second, settings.warm_writes_per_second)
        if busy and settings.warm_reads_per_second and settings.warm_writes_per_second
        else None
    )
    return CapacityPlan(
        busy=busy,
        fixtures=tuple(counted),
        provisioned_concurrency=max(settings.busy_concurrency, settings.baseline_concurrency)
        if busy
        else settings.baseline_concurrency,
        warm_throughput=warm,
    )


def warm_throughput_raise(current: tuple[int, int], wanted: tuple[int, int] | None) -> tuple[int, int] | None:
    """The warm throughput to request, or None when nothing would rise.

    DynamoDB warm throughput can be raised but never lowered, so the request keeps each dimension at the
    higher of current and wanted; it is never used to relax.
    """
    if wanted is None:
        return None
    raised = (max(current[0], wanted[0]), max(current[1], wanted[1]))
    return raised if raised != current else None


@dataclass(frozen=True)
class ConcurrencyChange:
    """``set`` provisioned concurrency to ``value``, or ``remove`` it (value 0)."""

    action: str  # "set" | "remove"
    value: int


def concurrency_change(current: int | None, wanted: int) -> ConcurrencyChange | None:
    """What to do to the alias's provisioned concurrency (``current`` None = not configured)."""
    if wanted == (current or 0):
        return None
    if wanted == 0:
        return ConcurrencyChange("remove", 0)
    return ConcurrencyChange("set", wanted)
