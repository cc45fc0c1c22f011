"""`make demo`: whole matches through the real workflows and handlers, on this machine, with no AWS account.

python -m local_engine.demo [--fixtures N] [--seed S] [--speed max|N] [--json] [--trace EXECUTION_NAME]
python -m local_engine.demo --via kafka [--fixtures N] [--seed S] [--json]   (make demo VIA=kafka)
"""

from __future__ import annotations

import argparse
import json
import sys

from local_engine.sample_feed import sample_feed
from local_engine.session import add_common_arguments, run_feed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo ARGS=...", description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=int, default=6, help="matches played at once (1-8)")
    parser.add_argument("--seed", type=int, default=7, help="the sample feed's seed: same seed, same feed")
    parser.add_argument(
        "--via",
        choices=("direct", "kafka"),
        default="direct",
        help="direct: events submitted to the engine; kafka: feed topic -> forwarder -> ingest API -> ... -> "
        "outbound poller -> outbound topic, through a local Kafka-protocol broker (docs/onprem.md)",
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    try:
        feed = sample_feed(fixtures=args.fixtures, seed=args.seed)
    except ValueError as error:
        parser.error(str(error))
    if args.via == "kafka":
        from local_engine.kafka_path import run_via_kafka

        kafka_report = run_via_kafka(
            feed,
            assembly=args.assembly,
            concurrency=args.concurrency,
            out=sys.stdout,
        )
        if args.json:
            print(json.dumps(kafka_report, sort_keys=True))
        return 0 if kafka_report["accounted_for"] else 1
    report = run_feed(feed, args=args, title=f"{args.fixtures} fixtures, seed {args.seed}")
    return 0 if report["accounted_for"] else 1


if __name__ == "__main__":
    sys.exit(main())
