"""Benchmark the football pricing engine and print a markdown table.

Run from the repository root: ``python bench/bench_pricing.py``. Measures, on one core:

* the median time to price one fixture's full book (``price_fixture``);
* fixtures per second when a batch is priced together (``price_fixtures``);
* the cold import time of ``lambdas.pricing`` from ``python -X importtime`` in a fresh interpreter.

Goals (the issue): full book <= 200 us, >= 20,000 fixtures/s batched, cold import <= 400 ms.
"""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lambdas.pricing import PricingRequest, price_fixture, price_fixtures  # noqa: E402

SINGLE_REPEATS = 3000
BATCH_SIZE = 2000
BATCH_REPEATS = 5
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


def single_fixture_median_us() -> float:
    request = PricingRequest(1.6, 1.1)
    for _ in range(200):
        price_fixture(request)
    timings = []
    for _ in range(SINGLE_REPEATS):
        start = time.perf_counter()
        price_fixture(request)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1e6


def batch_fixtures_per_second() -> float:
    requests = sample_requests(BATCH_SIZE)
    price_fixtures(requests[:100])
    best = 0.0
    for _ in range(BATCH_REPEATS):
        start = time.perf_counter()
        price_fixtures(requests)
        best = max(best, BATCH_SIZE / (time.perf_counter() - start))
    return best


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


def main() -> int:
    single = single_fixture_median_us()
    batch = batch_fixtures_per_second()
    cold = cold_import_ms()
    verdict = {True: "met", False: "NOT met"}
    print("| measure | result | goal | status |")
    print("|---|---|---|---|")
    print(
        f"| full book, one fixture (median) | {single:.0f} us | <= {GOAL_SINGLE_US:.0f} us "
        f"| {verdict[single <= GOAL_SINGLE_US]} |"
    )
    print(
        f"| batched, {BATCH_SIZE} fixtures per call (best of {BATCH_REPEATS}) | {batch:,.0f} fixtures/s "
        f"| >= {GOAL_BATCH_PER_SECOND:,.0f} | {verdict[batch >= GOAL_BATCH_PER_SECOND]} |"
    )
    print(
        f"| cold import of lambdas.pricing (-X importtime, median) | {cold:.0f} ms | <= {GOAL_IMPORT_MS:.0f} ms "
        f"| {verdict[cold <= GOAL_IMPORT_MS]} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
