"""Probes and metrics over HTTP, as a container platform and Prometheus read them."""

from __future__ import annotations

import urllib.error
import urllib.request

from onprem.forwarder import backoff_seconds, forwarder_metrics, lane_of, unsendable
from onprem.health import HealthServer, Heartbeat


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_probes_and_metrics_answer_over_http() -> None:
    # Given a forwarder's metrics with a few values, and a readiness check that says why not
    metrics = forwarder_metrics()
    metrics.inc("events_accepted_total", 3)
    metrics.inc("ingest_retries_total", cause="http_429")
    metrics.set("consumer_lag", 7, partition="2")
    reasons: list[str | None] = ["not yet in the consumer group"]
    heartbeat = Heartbeat(stale_after_seconds=60)
    server = HealthServer(host="127.0.0.1", port=0, metrics=metrics, heartbeat=heartbeat, ready=lambda: reasons[0])
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        # When the probes are read before and after the process becomes ready
        not_ready = _get(f"{base}/readyz")
        reasons[0] = None
        ready = _get(f"{base}/readyz")
        alive = _get(f"{base}/healthz")
        scraped = _get(f"{base}/metrics")[1]
    finally:
        server.stop()

    # Then readiness says why not, then yes; liveness follows the main loop's heartbeat
    assert not_ready == (503, "not ready: not yet in the consumer group\n")
    assert ready[0] == 200 and alive[0] == 200
    # And the metrics are in the Prometheus text format, labels and all
    assert "# TYPE onprem_forwarder_events_accepted_total counter\nonprem_forwarder_events_accepted_total 3" in scraped
    assert 'onprem_forwarder_ingest_retries_total{cause="http_429"} 1' in scraped
    assert 'onprem_forwarder_consumer_lag{partition="2"} 7' in scraped


def test_a_stalled_main_loop_fails_liveness() -> None:
    # Given a heartbeat that has not beaten within its window
    heartbeat = Heartbeat(stale_after_seconds=0.0)

    # Then the process reports itself not alive
    assert not heartbeat.alive()


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    # Given the largest draw the jitter can make
    top = lambda low, high: high  # noqa: E731 - the upper bound of random.uniform

    # Then the bound doubles per attempt from the base, up to the cap; the lowest draw is zero
    assert [backoff_seconds(n, base=0.2, cap=5.0, draw=top) for n in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    assert backoff_seconds(3, base=0.2, cap=5.0, draw=lambda low, high: low) == 0.0
    assert backoff_seconds(10_000, base=0.2, cap=5.0, draw=top) == 5.0


def test_the_ordering_lane_is_the_fixture() -> None:
    # Then the key wins, else the body's fixture_id, else the record's partition
    assert lane_of(b"F1", b'{"fixture_id": "F2"}', 0) == "F1"
    assert lane_of(None, b'{"fixture_id": "F2"}', 0) == "F2"
    assert lane_of(None, b"{not json", 4) == "partition-4"


def test_records_that_cannot_be_sent_say_why() -> None:
    assert unsendable(None) == "empty record"
    assert unsendable(b"[1, 2]") == "not a JSON object"
    assert (unsendable(b"{oops") or "").startswith("not JSON")
    assert unsendable(b'{"fixture_id": "F1"}') is None
