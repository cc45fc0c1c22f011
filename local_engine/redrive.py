"""`make redrive`: run quarantined feed events through the feed workflow again (Express workflows have no redrive).

    python -m local_engine.redrive --stack TradingEngine-dev-Feed [--region eu-west-1]        # AWS
    python -m local_engine.redrive --queue-url URL --state-machine-arn ARN                    # AWS
    python -m local_engine.redrive --local FEED.jsonl                                         # local engine
    options: [--reason ERROR ...] [--all-reasons] [--max N] [--dry-run] [--json]

Each dead-letter message holds the original event and why it was quarantined. The command takes a snapshot
of the queue (every message is received once and stays hidden while the command runs, so a message the
workflow quarantines again during the run is not picked up in a loop), starts one execution per selected
message under a deterministic name, ``redrive-{fixture_id}-{sequence}-{hash of the event}``, and deletes the
message only once its execution was accepted (in AWS: ran, with StartSyncExecution). Messages not selected
are made visible again, untouched. Redriving is idempotent: the workflow's guard in DynamoDB skips an event
already applied, so a message redriven twice (or the same event quarantined twice) is reported as a
duplicate the second time. By default every reason but ``MalformedEvent`` is redriven: a malformed event
fails the same way until someone corrects it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

NOT_REDRIVEN_BY_DEFAULT = frozenset({"MalformedEvent"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def redrive_name(event: dict[str, Any]) -> str:
    """The deterministic execution name of a redriven event (at most 80 characters, as Step Functions allows)."""
    digest = hashlib.sha256(json.dumps(event, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:10]
    fixture = _NAME_UNSAFE.sub("_", str(event.get("fixture_id", "unknown")))[:40]
    sequence = _NAME_UNSAFE.sub("_", str(event.get("sequence", "none")))[:16]
    return f"redrive-{fixture}-{sequence}-{digest}"


@dataclass(frozen=True)
class Started:
    """What starting one execution gave: its ARN and, when the start waited for the end, its outcome."""

    execution_arn: str
    outcome: str | None = None  # applied | skipped | quarantined | failed, when known
    detail: str | None = None  # the final state, or the error


@dataclass
class RedrivenMessage:
    message_id: str
    error: str | None
    fixture_id: str | None
    sequence: Any
    action: str  # redriven | left | unreplayable | would-redrive (dry run)
    execution_name: str | None = None
    execution_arn: str | None = None
    outcome: str | None = None
    detail: str | None = None


@dataclass
class RedriveReport:
    queue_url: str
    state_machine_arn: str
    messages: list[RedrivenMessage] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        actions = Counter(m.action for m in self.messages)
        return {
            "queue_url": self.queue_url,
            "state_machine_arn": self.state_machine_arn,
            "received": len(self.messages),
            "redriven": actions["redriven"],
            "left_on_queue": dict(sorted(Counter(m.error or "?" for m in self.messages if m.action == "left").items())),
            "unreplayable": actions["unreplayable"],
            "would_redrive": actions["would-redrive"],
            "outcomes": dict(sorted(Counter(m.outcome or "started" for m in self.messages if m.execution_arn).items())),
            "details": dict(sorted(Counter(m.detail for m in self.messages if m.detail).items())),
        }

    def as_json(self) -> dict[str, Any]:
        return {**self.summary(), "messages": [asdict(m) for m in self.messages]}

    def human(self) -> str:
        s = self.summary()
        lines = [
            f"quarantine queue   {s['queue_url']}",
            f"received           {s['received']}",
            f"redriven           {s['redriven']}   outcomes: "
            + (", ".join(f"{k} {v}" for k, v in s["outcomes"].items()) or "none"),
            f"left on the queue  {sum(s['left_on_queue'].values())}   "
            + ", ".join(f"{k} {v}" for k, v in s["left_on_queue"].items()),
            f"unreplayable       {s['unreplayable']}   (no original event in the message: kept on the queue)",
        ]
        if s["would_redrive"]:
            lines.append(f"dry run: would redrive {s['would_redrive']}")
        return "\n".join(lines)


def receive_snapshot(sqs: Any, queue_url: str, *, visibility_timeout: int, limit: int | None) -> list[dict[str, Any]]:
    """Every message on the queue now, each received once and hidden for ``visibility_timeout`` seconds."""
    messages: list[dict[str, Any]] = []
    seen: set[str] = set()
    while limit is None or len(messages) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10 if limit is None else max(1, min(10, limit - len(messages))),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            return messages
        seen.update(m["MessageId"] for m in fresh)
        messages.extend(fresh)
    return messages


def redrive(
    sqs: Any,
    queue_url: str,
    state_machine_arn: str,
    start: Callable[[str, str], Started],
    *,
    reasons: set[str] | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    visibility_timeout: int = 900,
) -> RedriveReport:
    """Redrive the selected quarantined messages (``reasons``: None = every reason but MalformedEvent)."""
    report = RedriveReport(queue_url, state_machine_arn)
    left: list[str] = []
    for message in receive_snapshot(sqs, queue_url, visibility_timeout=visibility_timeout, limit=limit):
        try:
            body = json.loads(message["Body"])
        except json.JSONDecodeError:
            body = None
        event = body.get("event") if isinstance(body, dict) else None
        error = body.get("error") if isinstance(body, dict) else None
        item = RedrivenMessage(
            message_id=message["MessageId"],
            error=error,
            fixture_id=event.get("fixture_id") if isinstance(event, dict) else None,
            sequence=event.get("sequence") if isinstance(event, dict) else None,
            action="redriven",
        )
        report.messages.append(item)
        selected = error in reasons if reasons is not None else error not in NOT_REDRIVEN_BY_DEFAULT
        if not isinstance(event, dict):
            item.action = "unreplayable"
            left.append(message["ReceiptHandle"])
            continue
        if not selected or dry_run:
            item.action = "would-redrive" if selected else "left"
            left.append(message["ReceiptHandle"])
            continue
        item.execution_name = redrive_name(event)
        started = start(item.execution_name, json.dumps(event))
        item.execution_arn, item.outcome, item.detail = started.execution_arn, started.outcome, started.detail
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])  # only once accepted
    for receipt in left:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return report


def aws_starter(sfn: Any, state_machine_arn: str) -> Callable[[str, str], Started]:
    """Start each redrive synchronously (Express): the report then says how each one ended."""

    def start(name: str, execution_input: str) -> Started:
        result = sfn.start_sync_execution(stateMachineArn=state_machine_arn, name=name, input=execution_input)
        status = result["status"]
        if status == "SUCCEEDED":
            return Started(result["executionArn"], "succeeded", None)
        if result.get("error") == "EventQuarantined":
            return Started(result["executionArn"], "quarantined", result.get("error"))
        return Started(result["executionArn"], "failed", f"{status}: {result.get('error')}")

    return start


def redrive_local(engine: Any, **options: Any) -> RedriveReport:
    """Redrive the local engine's quarantine queue through its workflow; outcomes as the engine accounts them."""
    arn = engine.feed_state_machine_arn

    def start(name: str, execution_input: str) -> Started:
        # One at a time, as aws_starter's StartSyncExecution: two quarantined events of one fixture are redriven
        # in the queue's order, never racing each other (found by tests/e2e/test_redrive.py failing now and then).
        return Started(engine.run_sync_execution(arn, name, execution_input)["executionArn"])

    report = redrive(engine.client("sqs"), engine.queue_url("QuarantinedEvents"), arn, start, **options)
    engine.drain()
    by_arn = {outcome.execution_arn: outcome for outcome in engine.outcomes}
    for item in report.messages:
        outcome = by_arn.get(item.execution_arn or "")
        if outcome is not None:
            item.outcome, item.detail = outcome.kind, outcome.final_state
    return report


class _EveryReason(set[str]):
    """A reason set that contains every reason (``--all-reasons``)."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERY_REASON = _EveryReason()


def _stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make redrive ARGS=...", description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the Feed stack's name (reads QuarantineQueueUrl, FeedEventStateMachineArn)")
    where.add_argument("--queue-url", help="the quarantine queue's URL (with --state-machine-arn)")
    where.add_argument("--local", metavar="FEED", help="play a JSON-lines feed in the local engine, then redrive")
    parser.add_argument("--state-machine-arn", help="the feed workflow's ARN (with --queue-url)")
    parser.add_argument("--region", help="the AWS region (default: your AWS configuration's)")
    parser.add_argument("--reason", action="append", help="redrive only this error (repeatable)")
    parser.add_argument("--all-reasons", action="store_true", help="redrive every reason, MalformedEvent too")
    parser.add_argument("--max", type=int, help="at most this many messages")
    parser.add_argument("--dry-run", action="store_true", help="report what would be redriven; change nothing")
    parser.add_argument("--json", action="store_true", help="end with one JSON object: the report")
    parser.add_argument("--assembly", default="cdk.out", help="with --local: the synthesized app (cdk.out)")
    args = parser.parse_args(argv)
    if args.queue_url and not args.state_machine_arn:
        parser.error("--state-machine-arn: required with --queue-url")
    if args.max is not None and args.max < 1:
        parser.error(f"--max: must be >= 1, got {args.max}")
    reasons: set[str] | None = _EVERY_REASON if args.all_reasons else set(args.reason) if args.reason else None
    options: dict[str, Any] = {"reasons": reasons, "limit": args.max, "dry_run": args.dry_run}
    if args.local:
        report = _run_local(args.local, args.assembly, options)
    else:
        import boto3

        session = boto3.session.Session(region_name=args.region)
        queue_url, arn = args.queue_url, args.state_machine_arn
        if args.stack:
            outputs = _stack_outputs(session.client("cloudformation"), args.stack)
            queue_url, arn = outputs["QuarantineQueueUrl"], outputs["FeedEventStateMachineArn"]
        sfn = session.client("stepfunctions")
        report = redrive(session.client("sqs"), queue_url, arn, aws_starter(sfn, arn), **options)
    print(report.human())
    if args.json:
        print(json.dumps(report.as_json(), sort_keys=True, default=str))
    return 0


def _run_local(feed_path: str, assembly: str, options: dict[str, Any]) -> RedriveReport:
    from pathlib import Path

    from local_engine.engine import LocalEngine
    from local_engine.replay import read_feed
    from local_engine.session import quiet_libraries

    quiet_libraries()
    with Path(feed_path).open(encoding="utf-8") as stream:
        feed = list(read_feed(stream))
    with LocalEngine(Path(assembly), mqtt=False) as engine:
        for item in feed:
            if isinstance(item, str):
                engine.quarantine_unparseable(item)
            else:
                engine.submit(item)
        engine.drain()
        played = engine.accounting.as_dict()
        print(
            f"played {played['events']} events: applied {played['applied']}, skipped {played['skipped']}, "
            f"quarantined {played['quarantined']}"
        )
        return redrive_local(engine, **options)


if __name__ == "__main__":
    sys.exit(main())
