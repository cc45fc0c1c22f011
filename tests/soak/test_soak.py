"""The soak: duplicates, reordering, malformed events and injected faults through the local engine; then the
quarantine redriven, and every fixture compared with an in-order, fault-free replay. Marker ``soak``.

In ``make test`` it runs 1,000 events over 20 fixtures (the same mix): the local engine runs about 16 events/s
in one process, and the in-order replay beside it takes the other core, so the issue's 10,000 events over 200
fixtures would take most of an hour on the 2-core CI machine. ``SOAK_EVENTS`` / ``SOAK_FIXTURES`` set the
size (``make soak`` writes the bench report, bench/results/soak.json): the properties asserted are the same."""

from __future__ import annotations

import os

import pytest

from bench.bench_soak import soak
from tests.synth import SynthesizedApp

pytestmark = [pytest.mark.soak, pytest.mark.slow]


def test_every_event_is_accounted_for_and_the_final_books_equal_an_in_order_replay(dev_app: SynthesizedApp) -> None:
    # Given the soak feed: 10 % duplicates, 10 % reordered, 2 % malformed, 1 % of workflow calls failing
    events = int(os.environ.get("SOAK_EVENTS", "1000"))
    fixtures = int(os.environ.get("SOAK_FIXTURES", "20"))

    # When it is played with faults, its quarantine redriven, and an in-order fault-free replay run beside it
    report, problems = soak(events=events, fixtures=fixtures, fault_rate=0.01, seed=2026, assembly=dev_app.outdir)

    # Then nothing is lost and every fixture ends as the in-order replay ends
    assert problems == []
    assert report["events_sent"] == events and report["fixtures_compared"] == fixtures
    assert report["final_state_and_book_equal_in_order"] is True
    # ...the feed really was that bad, and faults really were met: most healed by Retry, the rest quarantined
    assert report["feed"] == {"duplicates": events // 10, "reordered": events // 10, "malformed": events // 50}
    assert report["faults"]["events_with_faults"] >= events * 0.03
    assert report["faults"]["healed"] > report["faults"]["quarantined"]
    # ...and only the malformed events are left in the quarantine, each with its reason
    assert report["left_on_quarantine_distinct_events"] == events // 50  # (a timed-out send may leave two copies)
    assert set(report["left_on_quarantine"]) <= {"MalformedEvent", "UnknownFixture"}
