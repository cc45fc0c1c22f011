"""Capacity planning before big fixtures: which fixtures count, when a window is busy, and what may change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lambdas.logic.capacity_plan import (
    CapacitySettings,
    ConcurrencyChange,
    ScheduledFixture,
    concurrency_change,
    plan_capacity,
    warm_throughput_raise,
)

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
SETTINGS = CapacitySettings(
    lead=timedelta(minutes=60),
    match_length=timedelta(minutes=150),
    fixtures_threshold=3,
    busy_concurrency=20,
    baseline_concurrency=4,
    warm_reads_per_second=24000,
    warm_writes_per_second=8000,
)


def _fixture(name: str, minutes_from_now: int, phase: str | None = "pre_match") -> ScheduledFixture:
    return ScheduledFixture(name, NOW + timedelta(minutes=minutes_from_now), phase)


def test_three_fixtures_kicking_off_within_the_lead_time_make_a_busy_window() -> None:
    # Given three 15:00 kick-offs an hour from now, and one at 17:30
    fixtures = [_fixture("A", 60), _fixture("B", 60), _fixture("C", 45), _fixture("Later", 210)]

    # When the next interval is planned
    plan = plan_capacity(NOW, fixtures, SETTINGS)

    # Then it is busy: the busy concurrency and the warm throughput apply, for the three fixtures only
    assert plan.busy is True
    assert plan.fixtures == ("A", "B", "C")
    assert plan.provisioned_concurrency == 20
    assert plan.warm_throughput == (24000, 8000)


def test_fixtures_in_play_still_count_until_full_time() -> None:
    # Given two fixtures that kicked off 100 minutes ago (one finished) and one kicking off soon
    fixtures = [_fixture("Playing", -100, "second_half"), _fixture("Done", -100, "full_time"), _fixture("Soon", 30)]

    # When planned
    plan = plan_capacity(NOW, fixtures, SETTINGS)

    # Then the finished one is not counted: two fixtures, below the threshold of three
    assert plan.fixtures == ("Playing", "Soon")
    assert plan.busy is False


def test_a_quiet_window_restores_the_baseline_and_never_asks_for_warm_throughput() -> None:
    # Given two fixtures only (threshold three)
    plan = plan_capacity(NOW, [_fixture("A", 10), _fixture("B", 20)], SETTINGS)

    # Then the stage's own concurrency applies and warm throughput is left as it is
    assert plan.busy is False
    assert plan.provisioned_concurrency == 4
    assert plan.warm_throughput is None


def test_kick_off_times_with_utc_offsets_are_compared_as_instants() -> None:
    # Given kick-offs sent in local time: 16:00+01:00 is 15:00 UTC (within the hour), 16:00+00:00 is not
    paris = timezone(timedelta(hours=1))
    fixtures = [
        ScheduledFixture("Paris", datetime(2026, 11, 28, 16, 0, tzinfo=paris)),
        ScheduledFixture("London", datetime(2026, 11, 28, 16, 0, tzinfo=UTC)),
    ]

    # Then only the one an hour away in UTC counts
    assert plan_capacity(NOW, fixtures, SETTINGS).fixtures == ("Paris",)


def test_warm_throughput_is_only_ever_raised() -> None:
    # Then a higher wish raises each dimension to at least the wish, keeping what is already higher
    assert warm_throughput_raise((12000, 4000), (24000, 8000)) == (24000, 8000)
    assert warm_throughput_raise((30000, 4000), (24000, 8000)) == (30000, 8000)
    # and nothing is requested when nothing would rise, or when the plan asks for no change
    assert warm_throughput_raise((30000, 9000), (24000, 8000)) is None
    assert warm_throughput_raise((12000, 4000), None) is None


def test_concurrency_is_set_restored_or_removed() -> None:
    # Then a busy window sets it, a quiet one restores the baseline, and a zero baseline removes it
    assert concurrency_change(None, 20) == ConcurrencyChange("set", 20)
    assert concurrency_change(20, 4) == ConcurrencyChange("set", 4)
    assert concurrency_change(20, 0) == ConcurrencyChange("remove", 0)
    # and nothing is called when it already matches
    assert concurrency_change(4, 4) is None
    assert concurrency_change(None, 0) is None
