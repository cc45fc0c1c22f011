"""`make replay FILE=...`: replay a JSON-lines feed (a file, or - for standard input) through the local engine.

    python -m local_engine.replay FILE [--speed max|N] [--json] [--trace EXECUTION_NAME]

Each line is one feed event. A line that is not JSON is quarantined with its reason, like any bad event.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from local_engine.session import add_common_arguments, run_feed


def read_feed(stream: IO[str]) -> Iterator[Any]:
    for line in stream:
        line = line.strip()
        if not line:
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            yield line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make replay FILE=... ARGS=...", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="a JSON-lines feed file, or - for standard input")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.file == "-":
        feed = list(read_feed(sys.stdin))
    else:
        try:
            with Path(args.file).open(encoding="utf-8") as stream:
                feed = list(read_feed(stream))
        except OSError as error:
            parser.error(f"FILE: cannot read {args.file}: {error.strerror}")
    report = run_feed(feed, args=args, title=args.file)
    return 0 if report["accounted_for"] else 1


if __name__ == "__main__":
    sys.exit(main())
