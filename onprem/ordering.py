"""The two bookkeeping rules of the forwarder, kept free of Kafka and HTTP so they can be tested alone.

- :class:`OffsetTracker`: an offset is committed only when it and every earlier offset of its partition
  are finished (accepted by AWS or dead-lettered). Work finishes out of order across fixtures; the commit
  point never passes an unfinished record, so a crash replays from the first unfinished one.
- :class:`KeyedLanes`: one FIFO lane per key (the fixture), at most one item of a lane handed out at a
  time, any number of lanes in flight (bounded by the workers that take from it).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Partition = tuple[str, int]  # (topic, partition)
Item = TypeVar("Item")


class OffsetTracker:
    """Outstanding offsets per partition and the commit point each allows. Thread-safe."""

    def __init__(self) -> None:
        self._outstanding: dict[Partition, set[int]] = {}
        self._highest: dict[Partition, int] = {}
        self._committed: dict[Partition, int] = {}
        self._lock = threading.Lock()

    def track(self, partition: Partition, offset: int) -> None:
        """A record was read and handed on: it is outstanding until :meth:`finish`."""
        with self._lock:
            self._outstanding.setdefault(partition, set()).add(offset)
            self._highest[partition] = max(offset, self._highest.get(partition, -1))

    def finish(self, partition: Partition, offset: int) -> None:
        """A record is done with. Ignored for a partition forgotten since (revoked in a rebalance)."""
        with self._lock:
            if partition in self._outstanding:
                self._outstanding[partition].discard(offset)

    def outstanding(self) -> int:
        with self._lock:
            return sum(len(offsets) for offsets in self._outstanding.values())

    def commit_point(self, partition: Partition) -> int | None:
        """The offset to commit (Kafka's "next offset to read"), or None before any record was read."""
        with self._lock:
            return self._commit_point(partition)

    def _commit_point(self, partition: Partition) -> int | None:
        outstanding = self._outstanding.get(partition)
        if outstanding:
            return min(outstanding)
        highest = self._highest.get(partition)
        return None if highest is None else highest + 1

    def to_commit(self) -> dict[Partition, int]:
        """Commit points that moved since the last :meth:`committed`."""
        with self._lock:
            moved = {}
            for partition in self._highest:
                point = self._commit_point(partition)
                if point is not None and point != self._committed.get(partition):
                    moved[partition] = point
            return moved

    def committed(self, points: dict[Partition, int]) -> None:
        with self._lock:
            for partition, point in points.items():
                if partition in self._highest:
                    self._committed[partition] = point

    def last_committed(self, partition: Partition) -> int | None:
        with self._lock:
            return self._committed.get(partition)

    def forget(self, partitions: list[Partition]) -> None:
        """The partitions were revoked: whatever is still outstanding there is replayed by the next owner."""
        with self._lock:
            for partition in partitions:
                self._outstanding.pop(partition, None)
                self._highest.pop(partition, None)
                self._committed.pop(partition, None)


class KeyedLanes(Generic[Item]):
    """FIFO lanes by key; :meth:`take` hands out the head of a lane that has nothing in flight."""

    def __init__(self) -> None:
        self._lanes: dict[Hashable, deque[Item]] = {}
        self._busy: set[Hashable] = set()
        self._ready: deque[Hashable] = deque()  # keys with work and nothing in flight, oldest first
        self._closed = False
        self._changed = threading.Condition()

    def put(self, key: Hashable, item: Item) -> None:
        with self._changed:
            lane = self._lanes.setdefault(key, deque())
            lane.append(item)
            if len(lane) == 1 and key not in self._busy:
                self._ready.append(key)
                self._changed.notify()

    def take(self, timeout: float | None = None) -> tuple[Hashable, Item] | None:
        """The next item whose lane is idle, marking that lane busy; None on timeout or once closed."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._ready or self._closed, timeout=timeout):
                return None
            if self._closed:
                return None
            key = self._ready.popleft()
            self._busy.add(key)
            return key, self._lanes[key].popleft()

    def release(self, key: Hashable) -> None:
        """The lane's item in flight is done: its next item (if any) may go."""
        with self._changed:
            self._busy.discard(key)
            lane = self._lanes.get(key)
            if lane:
                self._ready.append(key)
            elif lane is not None:
                del self._lanes[key]
            self._changed.notify_all()

    def drop(self, keep: Callable[[Item], bool]) -> int:
        """Remove queued (not in-flight) items for which ``keep`` is false; returns how many went."""
        with self._changed:
            dropped = 0
            for key in list(self._lanes):
                lane = self._lanes[key]
                kept = deque(item for item in lane if keep(item))
                dropped += len(lane) - len(kept)
                self._lanes[key] = kept
                if not kept and key not in self._busy:
                    del self._lanes[key]
            self._ready = deque(key for key in self._ready if self._lanes.get(key))
            self._changed.notify_all()
            return dropped

    def idle(self) -> bool:
        with self._changed:
            return not self._busy and not any(self._lanes.values())

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._busy and not any(self._lanes.values()), timeout=timeout)

    def in_flight(self) -> int:
        with self._changed:
            return len(self._busy)

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
