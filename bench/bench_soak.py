"""The soak benchmark: `make soak` (python -m bench.bench_soak) writes bench/results/soak.json.

10,000 events over 200 fixtures with 10 % duplicates, 10 % reordered, 2 % malformed and injected faults
(local_engine/soak.py says exactly what each means) through the local engine; the quarantine is then
redriven; every event is accounted for and each fixture's final state and newest book are compared with an
in-order, fault-free replay that runs at the same time in a second process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local_engine.soak import accounted_for, compare, run_soak, soak_feed

RESULTS = Path(__file__).resolve().parent / "results" / "soak.json"


def soak(
    *, events: int, fixtures: int, fault_rate: float, seed: int, assembly: Path
) -> tuple[dict[str, Any], list[str]]:
    """Run the soak and its reference; the report and every problem found (none: the soak passed)."""
    feed = soak_feed(events=events, fixtures=fixtures, seed=seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        feed_file, reference_file = Path(scratch) / "in-order.json", Path(scratch) / "reference.json"
        feed_file.write_text(json.dumps(feed.in_order))
        reference = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_engine.soak",
                "reference",
                str(feed_file),
                str(reference_file),
                str(assembly),
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        try:
            result = run_soak(assembly, feed, fault_rate=fault_rate, seed=seed)
        finally:
            reference.wait(timeout=3600)
        if reference.returncode != 0:
            return {}, [f"the reference run failed (exit {reference.returncode})"]
        expected = json.loads(reference_file.read_text())
    problems = accounted_for(result, feed) + compare(result.fixtures, expected["fixtures"])
    report = {
        **result.report,
        "reference": {"accounting": expected["accounting"], "wall_seconds": expected["wall_seconds"]},
        "final_state_and_book_equal_in_order": not compare(result.fixtures, expected["fixtures"]),
        "fixtures_compared": len(expected["fixtures"]),
        "problems": problems[:50],
        "wall_seconds_total": time.monotonic() - started,
    }
    return report, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make soak ARGS=...", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fixtures", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.01, help="chance that one workflow call fails")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--assembly", type=Path, default=Path("cdk.out"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report, problems = soak(
        events=args.events, fixtures=args.fixtures, fault_rate=args.fault_rate, seed=args.seed, assembly=args.assembly
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "problems"}, indent=2, sort_keys=True))
    for problem in problems[:20]:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
