"""`make demo VIA=kafka` (its own module: it runs its own local engine, which cannot share moto with another)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from local_engine.kafka_path import run_via_kafka
from local_engine.sample_feed import sample_feed

pytestmark = pytest.mark.slow


def test_the_kafka_demo_runs_the_whole_path_and_accounts_for_every_event(dev_app: Any) -> None:
    # Given a seeded sample feed with the supplier's faults (duplicates, reordering, malformed events)
    feed = sample_feed(fixtures=1, seed=7)
    out = io.StringIO()

    # When `make demo VIA=kafka` runs it (ingest answering after each execution)
    report = run_via_kafka(feed, assembly=dev_app.outdir, concurrency=2, out=out)

    # Then every event was accepted or dead-lettered, and every published book reached the outbound topic once
    assert report["accounted_for"], out.getvalue()
    assert report["accepted_by_ingest"] + report["dead_lettered"] == len(feed)
    assert report["books_published"] == report["books_on_outbound_topic"] > 0
    assert report["books_duplicated_on_topic"] == 0 and report["books_keyed_by_fixture"]
    # And in feed order per fixture: the only quarantines are the supplier's own faults, none NotInPlay
    assert "NotInPlay" not in report["workflow"]["quarantine_reasons"]
    assert report["workflow"]["applied"] == report["books_published"] + report["workflow"]["final_states"].get(
        "SupersededBeforePublishing", 0
    )
