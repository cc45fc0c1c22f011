"""Benchmark the football pricing engine and print a markdown table.

Run from the repository root: ``python -m bench.bench_pricing`` (``make bench``). The process pins itself to
CPU 0 (Linux ``os.sched_setaffinity``) so numpy/BLAS and the interpreter share one core, as the issue asks. Measures:

* the median time to price one fixture's full book (``price_fixture``);
* fixtures per second when a batch is priced together, from the median batch time, measured twice:
  ``price_fixtures_arrays`` (the pricing itself: every number and status as numpy arrays) and ``price_fixtures``
  (the same pricing plus building ~130 frozen ``Market``/``Selection`` objects per fixture);
* the cold import time of ``lambdas.pricing`` from ``python -X importtime`` in a fresh interpreter.

Prints a markdown table and writes the same numbers to ``bench/results/pricing.json``.

Goals (the issue): full book <= 200 us, >= 20,000 fixtures/s batched, cold import <= 400 ms. The batch goal is
about pricing throughput, so it is compared with ``price_fixtures_arrays``; the object-building ``price_fixtures``
number is reported next to it, never hidden, because callers that need objects pay that cost.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lambdas.pricing import PricingRequest, price_fixture, price_fixtures, price_fixtures_arrays

ROOT = Path(__file__).resolve().parent.parent

SINGLE_REPEATS = 3000
BATCH_SIZE = 2000
BATCH_REPEATS = 15
RESULTS_PATH = ROOT / "bench" / "results" / "pricing.json"
IMPORT_REPEATS = 5
GOAL_SINGLE_US = 200.0
GOAL_BATCH_PER_SECOND = 20_000.0
GOAL_IMPORT_MS = 400.0


def sample_requests(count: int, seed: int = 7) -> list[PricingRequest]:
    """A realistic mix: two thirds pre-match, one third in play at random minutes and scores."""
    generator = random.Random(seed)
    requests = []
    for _ in range(count):
        home, away = generator.uniform(0.6, 2.6), generator.uniform(0.4, 2.0)
        if generator.random() < 2 / 3:
            requests.append(PricingRequest(home, away))
        else:
            requests.append(
                PricingRequest(
                    home,
                    away,
                    phase="in_play",
                    minute=generator.uniform(1, 89),
                    home_score=generator.randint(0, 2),
                    away_score=generator.randint(0, 2),
                )
            )
    return requests


PRE_MATCH_BOOK = PricingRequest(1.6, 1.1)  # every market open: the full book
# In play, some lines are already decided (settled or closed) and the rest priced from the shifted matrix.
IN_PLAY_BOOK = PricingRequest(1.6, 1.1, phase="in_play", minute=55.0, home_score=1, away_score=0)


def single_fixture_median_us(request: PricingRequest = PRE_MATCH_BOOK) -> float:
    for _ in range(200):
        price_fixture(request)
    timings = []
    for _ in range(SINGLE_REPEATS):
        start = time.perf_counter()
        price_fixture(request)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1e6


def batch_fixtures_per_second(price_batch) -> tuple[float, float]:
    """(median, best) fixtures per second over BATCH_REPEATS calls of ``price_batch`` on BATCH_SIZE requests."""
    requests = sample_requests(BATCH_SIZE)
    price_batch(requests[:100])
    timings = []
    for _ in range(BATCH_REPEATS):
        start = time.perf_counter()
        price_batch(requests)
        timings.append(time.perf_counter() - start)
    return BATCH_SIZE / statistics.median(timings), BATCH_SIZE / min(timings)


def cold_import_ms() -> float:
    """Cumulative import time of lambdas.pricing (including numpy) reported by -X importtime, median of runs."""
    samples = []
    for _ in range(IMPORT_REPEATS):
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import lambdas.pricing"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        for line in completed.stderr.splitlines():
            parts = [part.strip() for part in line.split("|")]
            if len(parts) == 3 and parts[2] == "lambdas.pricing":
                samples.append(int(parts[1]) / 1000.0)
    return statistics.median(samples)


def pin_to_one_core() -> str:
    """Run on CPU 0 only (Linux); the cold-import subprocesses inherit the affinity."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
        return "pinned to CPU 0"
    return "not pinned (no sched_setaffinity on this platform)"


def main() -> int:
    pinning = pin_to_one_core()
    single = single_fixture_median_us(PRE_MATCH_BOOK)
    single_in_play = single_fixture_median_us(IN_PLAY_BOOK)
    arrays_median, arrays_best = batch_fixtures_per_second(price_fixtures_arrays)
    objects_median, objects_best = batch_fixtures_per_second(price_fixtures)
    cold = cold_import_ms()
    verdict = {True: "met", False: "NOT met"}
    print(f"Single core ({pinning}); Python {platform.python_version()}, {os.cpu_count()} CPUs on the machine.")
    print()
    print("| measure | result | goal | status |")
    print("|---|---|---|---|")
    print(
        f"| full book, one fixture, pre-match (median of {SINGLE_REPEATS}) | {single:.0f} us "
        f"| <= {GOAL_SINGLE_US:.0f} us | {verdict[single <= GOAL_SINGLE_US]} |"
    )
    print(
        f"| full book, one fixture, in play at 1-0 in minute 55 (median of {SINGLE_REPEATS}) | {single_in_play:.0f} us "
        f"| <= {GOAL_SINGLE_US:.0f} us | {verdict[single_in_play <= GOAL_SINGLE_US]} |"
    )
    print(
        f"| batched, {BATCH_SIZE} fixtures per call, arrays (`price_fixtures_arrays`; median of {BATCH_REPEATS}; "
        f"best {arrays_best:,.0f}) | {arrays_median:,.0f} fixtures/s | >= {GOAL_BATCH_PER_SECOND:,.0f} "
        f"| {verdict[arrays_median >= GOAL_BATCH_PER_SECOND]} |"
    )
    print(
        f"| batched, {BATCH_SIZE} fixtures per call, objects (`price_fixtures`; median of {BATCH_REPEATS}; "
        f"best {objects_best:,.0f}) | {objects_median:,.0f} fixtures/s | (not the goal's measure) "
        f"| {'above' if objects_median >= GOAL_BATCH_PER_SECOND else 'below'} goal rate |"
    )
    print(
        f"| cold import of lambdas.pricing (-X importtime, median of {IMPORT_REPEATS}) | {cold:.0f} ms "
        f"| <= {GOAL_IMPORT_MS:.0f} ms | {verdict[cold <= GOAL_IMPORT_MS]} |"
    )
    results = {
        "pinning": pinning,
        "python": platform.python_version(),
        "single_fixture_median_us": round(single, 1),
        "single_fixture_in_play_median_us": round(single_in_play, 1),
        "single_fixture_goal_us": GOAL_SINGLE_US,
        "batch_size": BATCH_SIZE,
        "batch_goal_measure": "price_fixtures_arrays (pricing as arrays); price_fixtures also builds objects",
        "batch_arrays_fixtures_per_second_median": round(arrays_median),
        "batch_arrays_fixtures_per_second_best": round(arrays_best),
        "batch_objects_fixtures_per_second_median": round(objects_median),
        "batch_objects_fixtures_per_second_best": round(objects_best),
        "batch_goal_fixtures_per_second": GOAL_BATCH_PER_SECOND,
        "cold_import_median_ms": round(cold, 1),
        "cold_import_goal_ms": GOAL_IMPORT_MS,
        "goals_met": {
            "single_fixture": single <= GOAL_SINGLE_US,
            "single_fixture_in_play": single_in_play <= GOAL_SINGLE_US,
            "batch_arrays": arrays_median >= GOAL_BATCH_PER_SECOND,
            "batch_objects": objects_median >= GOAL_BATCH_PER_SECOND,
            "cold_import": cold <= GOAL_IMPORT_MS,
        },
    }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
