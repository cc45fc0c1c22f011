"""The forwarder's bookkeeping: commit points never pass an unfinished record; one in flight per fixture."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from onprem.ordering import KeyedLanes, OffsetTracker

FEED = ("feed", 0)


def test_the_commit_point_waits_for_the_earliest_unfinished_record() -> None:
    # Given records 10, 11, 12 read from one partition
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.track(FEED, offset)

    # When 11 and 12 finish first (other fixtures), then 10
    tracker.finish(FEED, 11)
    tracker.finish(FEED, 12)
    before = tracker.to_commit()
    tracker.finish(FEED, 10)

    # Then nothing past 10 is committable until 10 is done, and then everything is
    assert before == {FEED: 10}
    assert tracker.to_commit() == {FEED: 13}


def test_a_committed_point_is_not_offered_again_and_revoked_partitions_are_forgotten() -> None:
    # Given a finished record whose commit went through
    tracker = OffsetTracker()
    tracker.track(FEED, 0)
    tracker.finish(FEED, 0)
    tracker.committed(tracker.to_commit())

    # Then there is nothing new to commit
    assert tracker.to_commit() == {}

    # When the partition is revoked while a record is still out, and that record finishes afterwards
    tracker.track(FEED, 1)
    tracker.forget([FEED])
    tracker.finish(FEED, 1)

    # Then it offers no commit for a partition it no longer owns
    assert tracker.to_commit() == {} and tracker.outstanding() == 0


@given(st.permutations(list(range(30))), st.integers(min_value=0, max_value=30))
def test_the_commit_point_is_always_the_first_unfinished_offset(order: list[int], finished_count: int) -> None:
    # Given 30 records finished in any order, any number of them
    tracker = OffsetTracker()
    for offset in range(30):
        tracker.track(FEED, offset)
    for offset in order[:finished_count]:
        tracker.finish(FEED, offset)

    # Then the commit point is the first offset not finished (30 when all are)
    unfinished = set(range(30)) - set(order[:finished_count])
    assert tracker.commit_point(FEED) == min(unfinished, default=30)


def test_a_lane_hands_out_one_item_at_a_time_in_order() -> None:
    # Given two events for fixture A and one for fixture B
    lanes: KeyedLanes[str] = KeyedLanes()
    lanes.put("A", "A1")
    lanes.put("A", "A2")
    lanes.put("B", "B1")

    # When two workers take work while A1 is in flight
    first = lanes.take(timeout=0)
    second = lanes.take(timeout=0)
    third = lanes.take(timeout=0)

    # Then A2 waits for A1, B1 does not
    assert (first, second, third) == (("A", "A1"), ("B", "B1"), None)
    lanes.release("A")
    assert lanes.take(timeout=0) == ("A", "A2")


def test_lanes_keep_each_key_in_order_under_concurrent_workers() -> None:
    # Given 8 fixtures with 50 events each, taken by 6 workers
    lanes: KeyedLanes[tuple[str, int]] = KeyedLanes()
    for sequence in range(50):
        for fixture in "ABCDEFGH":
            lanes.put(fixture, (fixture, sequence))
    seen: dict[str, list[int]] = {fixture: [] for fixture in "ABCDEFGH"}
    in_flight: set[str] = set()
    overlaps: list[str] = []
    guard = threading.Lock()

    def work() -> None:
        while (taken := lanes.take(timeout=0.2)) is not None:
            key, (fixture, sequence) = taken
            with guard:
                if fixture in in_flight:
                    overlaps.append(fixture)
                in_flight.add(fixture)
                seen[fixture].append(sequence)
            with guard:
                in_flight.discard(fixture)
            lanes.release(key)

    workers = [threading.Thread(target=work) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # Then every fixture's events came out in order, never two at once
    assert overlaps == []
    assert all(sequences == list(range(50)) for sequences in seen.values())
    assert lanes.idle()


def test_dropping_revoked_work_keeps_the_rest_in_order() -> None:
    # Given queued work from two partitions in one lane
    lanes: KeyedLanes[tuple[int, int]] = KeyedLanes()
    for item in [(0, 1), (1, 2), (0, 3)]:
        lanes.put("A", item)

    # When partition 1 is revoked
    dropped = lanes.drop(keep=lambda item: item[0] != 1)

    # Then only its item goes
    assert dropped == 1
    assert [lanes.take(timeout=0), lanes.release("A"), lanes.take(timeout=0)][::2] == [("A", (0, 1)), ("A", (0, 3))]
