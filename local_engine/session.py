"""Running a feed through the local engine and reporting on it: shared by `demo` and `replay`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from local_engine.engine import LocalEngine, Outcome

DEFAULT_ASSEMBLY = Path("cdk.out")


@dataclass
class PriceBoard:
    """The latest book of every fixture, as an MQTT subscriber sees them."""

    books: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, topic: str, message: dict[str, Any]) -> None:
        """Keep the newest book of each fixture. Delivery order is not guaranteed (SNS, Lambda retries), so
        a book older than the one shown is ignored, as every price consumer must do (docs/feed-events.md)."""
        with self._lock:
            shown = self.books.get(message["fixture_id"])
            # Revisions order every book of a fixture (a trader's, a late goal's); sequences only feed events.
            if shown is None or message["revision"] > shown["revision"]:
                self.books[message["fixture_id"]] = message
            self.updates += 1

    def render(self) -> list[str]:
        with self._lock:
            books = sorted(self.books.values(), key=lambda book: book["fixture_id"])
        lines = [
            f"{'fixture':<34} {'score':>5} {'min':>4} {'status':<9} {'home':>6} {'draw':>6} {'away':>6} "
            f"{'o2.5':>6} {'u2.5':>6}  last event"
        ]
        for book in books:
            prices = _headline_prices(book)
            lines.append(
                f"{book['home_team'][:16]:>16} v {book['away_team'][:15]:<15} "
                f"{book['score']['home']:>2}-{book['score']['away']:<2} {int(book['minute']):>3}' {book['status']:<9} "
                + " ".join(f"{prices[name]:>6}" for name in ("home", "draw", "away", "over", "under"))
                + f"  {book['source_event']['type']}"
            )
        return lines


def _headline_prices(book: dict[str, Any]) -> dict[str, str]:
    shown = dict.fromkeys(("home", "draw", "away", "over", "under"), "-")
    for market in book["markets"]:
        if market["status"] not in {"open", "suspended"}:
            continue
        if market["type"] == "match_result" or (market["type"] == "total_goals" and market["line"] == 2.5):
            for selection in market["selections"]:
                shown[selection["name"]] = f"{selection['price']:.2f}"
    return shown


@dataclass
class Progress:
    """A board redrawn in place on a terminal; on a pipe or in CI, a short line every few seconds."""

    board: PriceBoard
    total: int
    out: IO[str]
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    _drawn_lines: int = 0
    _last_line: float = 0.0

    def update(self, *, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        status = (
            f"events {self.done}/{self.total}  {self.done / elapsed:5.1f} events/s  MQTT updates {self.board.updates}"
        )
        if self.out.isatty():
            lines = [*self.board.render(), "", status]
            if self._drawn_lines:
                self.out.write(f"\x1b[{self._drawn_lines}F\x1b[J")
            self.out.write("\n".join(lines) + "\n")
            self._drawn_lines = len(lines)
            self.out.flush()
        elif final or time.monotonic() - self._last_line >= 3:
            self.out.write(status + "\n")
            self.out.flush()
            self._last_line = time.monotonic()


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="end with one JSON object: the accounting")
    parser.add_argument("--speed", default="max", help="'max' (as fast as possible) or N: real time x N")
    parser.add_argument(
        "--trace",
        action="append",
        default=[],
        metavar="EXECUTION_NAME",
        help="print that execution's states (name, duration, input, output); repeatable",
    )
    parser.add_argument("--assembly", type=Path, default=DEFAULT_ASSEMBLY, help="the synthesized app (cdk.out)")
    parser.add_argument("--concurrency", type=int, default=8, help="fixtures processed at once")


def parse_speed(value: str) -> float | None:
    if value == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        raise SystemExit(f"error: --speed: expected 'max' or a positive number, got {value!r}") from None
    if speed <= 0:
        raise SystemExit(f"error: --speed: must be positive, got {value}")
    return speed


def quiet_libraries() -> None:
    """moto logs every failed execution as an exception; the accounting reports them instead."""
    for name in ("moto", "botocore", "werkzeug"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def run_feed(
    items: Iterable[Any], *, args: argparse.Namespace, out: IO[str] = sys.stdout, title: str = "feed"
) -> dict[str, Any]:
    """Submit every item (parsed event, or an unparseable line as a string) and report on the run."""
    quiet_libraries()
    items = list(items)
    speed = parse_speed(args.speed)
    board = PriceBoard()
    log_dir = Path(".local-engine")
    log_dir.mkdir(exist_ok=True)
    with LocalEngine(
        args.assembly,
        concurrency=args.concurrency,
        lambda_log=log_dir / "lambda.log",
        on_price_message=board.on_message,
    ) as engine:
        progress = Progress(board, len(items), out)
        done_lock = threading.Lock()

        def count(_: Outcome | None = None) -> None:
            with done_lock:
                progress.done += 1

        assert engine.broker is not None  # the session always runs with MQTT
        out.write(
            f"local engine: {title}, {len(items)} events, provisioned in {engine.provision_seconds:.1f} s "
            f"(MQTT on 127.0.0.1:{engine.broker.port}, websockets {engine.broker.websocket_port})\n"
        )
        started = time.monotonic()
        previous_time: datetime | None = None
        for item in items:
            if speed is not None and isinstance(item, dict):
                previous_time = _pace(item, previous_time, speed)
            if isinstance(item, str):
                engine.quarantine_unparseable(item)
                count()
            else:
                engine.submit(item, count)
            progress.update()
        while True:
            try:
                engine.drain(timeout=0.5)
                break
            except TimeoutError:
                progress.update()
        elapsed = time.monotonic() - started
        progress.update(final=True)
        report = _report(engine, elapsed)
        if not out.isatty():
            out.write("\n".join(board.render()) + "\n")
        _print_report(report, out)
        for name in args.trace:
            _print_trace(engine, name, out)
    if args.json:
        out.write(json.dumps(report, sort_keys=True) + "\n")
    return report


def _pace(event: dict[str, Any], previous: datetime | None, speed: float) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(event.get("occurred_at")).replace("Z", "+00:00"))
    except ValueError:
        return previous
    if previous is not None and moment > previous:
        time.sleep(min((moment - previous).total_seconds() / speed, 10.0))
    return max(moment, previous) if previous else moment


def _report(engine: LocalEngine, elapsed: float) -> dict[str, Any]:
    accounting = engine.accounting.as_dict()
    depths = engine.queue_depths()
    return {
        **accounting,
        "skipped_stale": accounting["final_states"].get("SkippedAsStale", 0),
        "skipped_duplicate": accounting["final_states"].get("SkippedAsDuplicate", 0),
        "sqs_messages": depths,
        "mqtt_messages": len(engine.mqtt_messages),
        "seconds": round(elapsed, 2),
        "events_per_second": round(accounting["events"] / elapsed, 1) if elapsed else None,
        "accounted_for": accounting["events"]
        == accounting["applied"] + accounting["skipped"] + accounting["quarantined"],
    }


def _print_report(report: dict[str, Any], out: IO[str]) -> None:
    out.write(
        f"\nevents in    {report['events']:>5}   ({report['events_per_second']} events/s over {report['seconds']} s)\n"
        f"applied      {report['applied']:>5}\n"
        f"skipped      {report['skipped']:>5}   "
        f"stale {report['skipped_stale']}, duplicate {report['skipped_duplicate']}\n"
        f"quarantined  {report['quarantined']:>5}   "
        + ", ".join(f"{reason} {count}" for reason, count in report["quarantine_reasons"].items())
        + "\n"
        f"accounted for: {'yes' if report['accounted_for'] else 'NO'} (events = applied + skipped + quarantined)\n"
        f"messages per queue: "
        + ", ".join(f"{name} {count}" for name, count in report["sqs_messages"].items())
        + f"\nMQTT messages received on trading/v1/fixtures/+/prices: {report['mqtt_messages']}\n"
    )


def _print_trace(engine: LocalEngine, name: str, out: IO[str]) -> None:
    outcome = next((o for o in engine.outcomes if o.execution_name == name), None)
    if outcome is None:
        out.write(f"\ntrace: no execution named {name!r} in this run\n")
        return
    out.write(f"\ntrace of {name}: {outcome.status}, {outcome.kind} ({outcome.final_state})\n")
    for step in engine.trace(outcome.execution_arn):
        out.write(f"  {step.name:<28} {step.type:<8} {step.duration_ms:7.1f} ms\n")
        out.write(f"      in : {_short(step.input)}\n")
        if step.output is not None:
            out.write(f"      out: {_short(step.output)}\n")


def _short(value: Any, limit: int = 220) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
