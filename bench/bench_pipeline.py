"""Benchmark of the local pipeline: feed event in -> workflow -> SNS -> IoT bridge -> MQTT message out.

Run from the project root after `make synth` (`make bench` does both):

    python -m bench.bench_pipeline [--assembly cdk.out] [--fixtures 6]

Measures, in one run on this machine:
- throughput: events per second for the demo's seeded feed, fixtures processed concurrently;
- latency: the median time from submitting one event to its book arriving at an MQTT subscriber, events
  sent one at a time (no queueing), with a breakdown per event into the ASL interpreter, the handlers
  and moto's service calls.
Prints a markdown table and writes bench/results/pipeline.json. Goals (issue 4): >= 50 events/s, <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local_engine.engine import LocalEngine
from local_engine.sample_feed import sample_feed
from local_engine.session import quiet_libraries

ROOT = Path(__file__).resolve().parents[1]

GOAL_EVENTS_PER_SECOND = 50
GOAL_MEDIAN_LATENCY_MS = 100


class MotoCallTimer:
    """Wall time spent inside moto's request handling, per thread (service calls made by workflow tasks)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def install(self) -> None:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.__call__
        timer = self

        def timed(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(stubber, event_name, request, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with timer._lock:
                    name = threading.current_thread().name
                    timer.seconds[name] = timer.seconds.get(name, 0.0) + elapsed

        BotocoreStubber.__call__ = timed  # type: ignore[method-assign]

    def take(self) -> dict[str, float]:
        with self._lock:
            taken, self.seconds = self.seconds, {}
        return taken


def throughput(engine: LocalEngine, feed: list[Any]) -> dict[str, float]:
    started = time.perf_counter()
    for event in feed:
        engine.submit(event)
    engine.drain()
    elapsed = time.perf_counter() - started
    return {"events": len(feed), "seconds": round(elapsed, 2), "events_per_second": round(len(feed) / elapsed, 1)}


def latency(engine: LocalEngine, feed: list[Any], timer: MotoCallTimer) -> dict[str, Any]:
    """One event at a time: from submit to the book's arrival at the engine's MQTT subscriber."""
    assert engine.runtime is not None
    latencies, interpreter, handlers, moto = [], [], [], []
    for event in feed:
        if not isinstance(event, dict) or event.get("type") is None:
            continue
        seen = len(engine.mqtt_messages)
        invocations = len(engine.runtime.invocations)
        timer.take()
        started = time.perf_counter()
        outcome = engine.run(event)
        if outcome.final_state != "PricesPublished":
            continue
        deadline = time.monotonic() + 10
        while len(engine.mqtt_messages) == seen and time.monotonic() < deadline:
            time.sleep(0.0005)
        arrived = time.perf_counter()
        engine.drain()
        handler_ms = sum(i.duration_ms for i in engine.runtime.invocations[invocations:])
        moto_ms = sum(timer.take().values()) * 1000 - handler_ms  # Invoke calls contain the handler's run
        latencies.append((arrived - started) * 1000)
        handlers.append(handler_ms)
        moto.append(max(moto_ms, 0.0))
        interpreter.append(max(outcome.duration_ms - moto_ms - handler_ms, 0.0))
    return {
        "events": len(latencies),
        "median_ms": round(statistics.median(latencies), 1),
        "p90_ms": round(statistics.quantiles(latencies, n=10)[-1], 1),
        "breakdown_median_ms": {
            "asl_interpreter": round(statistics.median(interpreter), 1),
            "handlers": round(statistics.median(handlers), 1),
            "moto_services": round(statistics.median(moto), 1),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("--fixtures", type=int, default=6)
    parser.add_argument("--latency-events", type=int, default=60)
    args = parser.parse_args()
    quiet_libraries()
    timer = MotoCallTimer()
    with LocalEngine(args.assembly, concurrency=8) as engine:
        timer.install()
        engine.run(sample_feed(fixtures=1, seed=99)[0])  # warm: handler imports and first-call costs
        flow = throughput(engine, sample_feed(fixtures=args.fixtures, seed=7))
        single = [e for e in sample_feed(fixtures=1, seed=11) if isinstance(e, dict)][: args.latency_events]
        single = [dict(e, fixture_id=f"{e['fixture_id']}-LAT") for e in single]
        timed = latency(engine, single, timer)
    results = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "throughput": flow,
        "latency": timed,
        "goals": {"events_per_second": GOAL_EVENTS_PER_SECOND, "median_latency_ms": GOAL_MEDIAN_LATENCY_MS},
        "goals_met": {
            "events_per_second": flow["events_per_second"] >= GOAL_EVENTS_PER_SECOND,
            "median_latency_ms": timed["median_ms"] <= GOAL_MEDIAN_LATENCY_MS,
        },
    }
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    breakdown = timed["breakdown_median_ms"]
    print("| measure | result | goal |\n|---|---|---|")
    print(
        f"| throughput, {flow['events']} events, {args.fixtures} fixtures at once | "
        f"{flow['events_per_second']} events/s | >= {GOAL_EVENTS_PER_SECOND} events/s |"
    )
    print(
        f"| latency feed in -> MQTT out, median (p90) of {timed['events']} | {timed['median_ms']} ms "
        f"({timed['p90_ms']} ms) | <= {GOAL_MEDIAN_LATENCY_MS} ms |"
    )
    print(
        f"| of which: ASL interpreter / handlers / moto services (medians) | {breakdown['asl_interpreter']} / "
        f"{breakdown['handlers']} / {breakdown['moto_services']} ms | |"
    )
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
