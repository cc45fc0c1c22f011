"""What a million feed events cost: the synthesized app beside the Lambda -> SNS -> Lambda chain it replaces.

Usage: ``python -m tools.cost [CDK_OUT] [--subscribers N] [--events-per-second R]`` (``make cost``) prints a
markdown table. Every unit price, its source and the date it was checked are in ``docs/cost/unit-prices.json``,
with the assumptions (payload sizes, service latencies) and the baseline chain.

What comes from the app (so a change to the app changes the estimate):
- the path a priced event takes through each EXPRESS workflow (shortest path from StartAt to its SNS publish,
  then on to the end): the task calls on it (DynamoDB reads and writes, Lambda invocations, SNS publishes,
  SQS sends) and the states it logs;
- the memory of every Lambda function invoked on that path or subscribed to the published topic;
- the subscriptions of that topic (SQS queues, Lambda functions) and which subscriber publishes to IoT Core;
- the X-Ray sampling rate of the workflow and the ingest API in front of it.
State transitions are not billed for Express workflows: requests and GB-seconds are.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_engine.cloud_assembly import StackArtifact, read_stacks
from tools.diagram import IOT_CORE_KEY, AssemblyIndex, Key

UNIT_PRICES_FILE = Path(__file__).resolve().parent.parent / "docs" / "cost" / "unit-prices.json"
MILLION = 1_000_000
KB = 1024
SNS_SQS_CHUNK_BYTES = 64 * KB
IOT_CHUNK_BYTES = 5 * KB
DYNAMODB_WRITE_UNIT_BYTES = KB
DYNAMODB_READ_UNIT_BYTES = 4 * KB
EXPRESS_BILLING_INCREMENT_MS = 100
EXPRESS_MEMORY_CHUNK_MB = 64
IOT_TOPIC_BYTES = len("trading/v1/fixtures/EPL-2026-ARS-CHE/prices")
SQS_REQUESTS_PER_MESSAGE = 3  # SendMessage (the SNS delivery), ReceiveMessage and DeleteMessage, unbatched
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class WorkflowPath:
    """The states one priced and published event passes through, and its task calls by service action."""

    states: tuple[str, ...]
    state_actions: tuple[str | None, ...]  # the task action of each state, None for a state without a task
    tasks: Counter[str]  # e.g. {"dynamodb:updateItem": 2, "lambda:invoke": 1, ...}
    invoked_functions: tuple[Key, ...]
    published_topics: tuple[Key, ...]


@dataclass(frozen=True)
class AppFacts:
    """Everything the estimate reads from the synthesized app, per feed event."""

    path: WorkflowPath
    invoked_memory_mb: tuple[int, ...]  # one entry per Lambda invocation on the workflow path
    queue_subscriptions: int
    lambda_subscriber_memory_mb: tuple[int, ...]
    iot_publishing_subscribers: int
    workflow_xray_sampling_rate: float
    ingest_api_requests: int
    workflow_log_level: str = "ALL"  # ALL logs every state; ERROR and FATAL log only failures; OFF nothing
    workflow_logs_execution_data: bool = True


@dataclass
class CostLine:
    service: str
    quantity: str
    usd_per_million_events: float


@dataclass
class Estimate:
    engine: list[CostLine] = field(default_factory=list)
    baseline: list[CostLine] = field(default_factory=list)

    @staticmethod
    def total(lines: list[CostLine]) -> float:
        return sum(line.usd_per_million_events for line in lines)


def published_path(definition: dict[str, Any]) -> tuple[str, ...]:
    """The path (Next, Default, Choices; never Catch) from StartAt to the first SNS publish that runs the most
    tasks, then to its end: an event that is applied writes, stores and claims before it publishes, while a
    shorter route (a republication of a stored book) skips the write."""
    states: dict[str, dict[str, Any]] = definition["States"]

    def tasks_on(path: tuple[str, ...]) -> int:
        return sum(states[name]["Type"] == "Task" for name in path)

    best: tuple[str, ...] | None = None
    stack: list[tuple[str, ...]] = [(definition["StartAt"],)]
    while stack:
        walked = stack.pop()
        state = states[walked[-1]]
        if str(state.get("Resource", "")).endswith(":sns:publish"):
            if best is None or tasks_on(walked) > tasks_on(best):
                best = walked
            continue
        following = [state.get("Next"), state.get("Default")] + [c.get("Next") for c in state.get("Choices", [])]
        stack.extend((*walked, successor) for successor in following if successor and successor not in walked)
    if best is None:
        raise ValueError("definition: no state publishes to SNS, so no priced event path exists")
    path = list(best)
    while "Next" in states[path[-1]]:
        path.append(states[path[-1]]["Next"])
    return tuple(path)


def _task_action(state: dict[str, Any]) -> str | None:
    resource = str(state.get("Resource", ""))
    return resource.removeprefix("arn:aws:states:::") if state["Type"] == "Task" else None


FEED_WORKFLOW_PREFIX = "FeedWorkflow"  # the construct that owns the feed workflow (stacks/constructs/feed_workflow.py)


def read_app_facts(stacks: list[StackArtifact], *, workflow_prefix: str = FEED_WORKFLOW_PREFIX) -> AppFacts:
    """The per-event facts of the EXPRESS feed workflow (the one whose logical id starts with
    ``workflow_prefix``: other workflows, such as trader commands, may publish books too)."""
    index = AssemblyIndex(stacks)
    machines = [
        (key, resource)
        for key, resource in sorted(index.resources.items())
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
        and key[1].startswith(workflow_prefix)
        and resource["Properties"].get("StateMachineType") == "EXPRESS"
        and _publishes(resource)
    ]
    if len(machines) != 1:
        raise ValueError(
            f"workflow: expected one EXPRESS workflow named {workflow_prefix}* that publishes to SNS, "
            f"found {len(machines)}"
        )
    (machine_key, machine), stack_name = machines[0], machines[0][0][0]
    properties = machine["Properties"]
    definition = json.loads(properties["DefinitionString"])
    substitutions = properties.get("DefinitionSubstitutions", {})
    states = published_path(definition)

    def substituted(text: str) -> set[Key]:
        return {
            key
            for placeholder in _PLACEHOLDER.findall(text)
            for key in index.targets(stack_name, substitutions.get(placeholder))
        }

    tasks: Counter[str] = Counter()
    invoked: list[Key] = []
    topics: list[Key] = []
    actions = tuple(_task_action(definition["States"][name]) for name in states)
    for name, action in zip(states, actions, strict=True):
        state = definition["States"][name]
        if action is None:
            continue
        tasks[action] += 1
        parameters = state.get("Parameters", {})
        if action.startswith("lambda:invoke"):
            invoked += sorted(substituted(str(parameters.get("FunctionName", ""))))
        if action == "sns:publish":
            topics += sorted(substituted(str(parameters.get("TopicArn", ""))))

    def memory(key: Key) -> int:
        return int(index.resources[key]["Properties"].get("MemorySize", 128))

    subscribers = [
        target
        for key, resource in sorted(index.resources.items())
        if resource["Type"] == "AWS::SNS::Subscription"
        for source, target in index.edges(key, resource)
        if source in topics
    ]
    queues = [key for key in subscribers if index.resources[key]["Type"] == "AWS::SQS::Queue"]
    functions = [key for key in subscribers if index.resources[key]["Type"] == "AWS::Lambda::Function"]
    iot_publishers = {
        source
        for key, resource in index.resources.items()
        for source, target in index.edges(key, resource)
        if target == IOT_CORE_KEY
    }
    sampling = [
        float(resource["Properties"]["SamplingRule"]["FixedRate"])
        for key, resource in sorted(index.resources.items())
        if resource["Type"] == "AWS::XRay::SamplingRule"
        and machine_key in index.targets(key[0], resource["Properties"]["SamplingRule"].get("ResourceARN"))
    ]
    ingest = [
        key
        for key, resource in index.resources.items()
        if resource["Type"] == "AWS::ApiGateway::Method"
        and machine_key in index.targets(key[0], resource["Properties"].get("Integration", {}))
    ]
    return AppFacts(
        path=WorkflowPath(states, actions, tasks, tuple(invoked), tuple(topics)),
        invoked_memory_mb=tuple(memory(key) for key in invoked),
        queue_subscriptions=len(queues),
        lambda_subscriber_memory_mb=tuple(memory(key) for key in functions),
        iot_publishing_subscribers=sum(1 for key in functions if key in iot_publishers),
        workflow_xray_sampling_rate=sampling[0] if sampling else 0.0,
        ingest_api_requests=1 if ingest else 0,
        workflow_log_level=str(properties.get("LoggingConfiguration", {}).get("Level", "OFF")),
        workflow_logs_execution_data=bool(properties.get("LoggingConfiguration", {}).get("IncludeExecutionData")),
    )


def _publishes(resource: dict[str, Any]) -> bool:
    return ":sns:publish" in str(resource["Properties"].get("DefinitionString", ""))


class PriceBook:
    """Unit prices and assumptions from the data file: ``usd(name, quantity)`` prices a quantity."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.prices = data["prices"]
        self.assumptions = {name: entry["value"] for name, entry in data["assumptions"].items()}
        self.baseline = data["baseline"]

    def usd(self, name: str, quantity: float) -> float:
        price = self.prices[name]
        return quantity * price["usd"] / price["per"]


def _chunks(size: int, chunk: int) -> int:
    return max(1, math.ceil(size / chunk))


def _lambda_lines(
    prices: PriceBook, label: str, memory_mb: list[int], duration_ms: list[float], invocations_per_event: int
) -> list[CostLine]:
    gb_seconds = sum(
        memory / KB * math.ceil(duration) / 1000 for memory, duration in zip(memory_mb, duration_ms, strict=True)
    )
    return [
        CostLine(
            f"Lambda requests ({label})",
            f"{invocations_per_event} invocations",
            prices.usd("lambda_arm_request", invocations_per_event * MILLION),
        ),
        CostLine(
            f"Lambda duration ({label})",
            f"{gb_seconds:.5f} GB-s",
            prices.usd("lambda_arm_gb_second", gb_seconds * MILLION),
        ),
    ]


def estimate(facts: AppFacts, prices: PriceBook, *, subscribers: int, events_per_second: float) -> Estimate:
    """Per million events: the engine's cost lines and the baseline's, from the app's facts and the price book."""
    a = prices.assumptions
    latency = a["task_latency_ms"]
    handler_ms = float(a["lambda_handler_ms"])
    book_bytes, event_bytes, fixture_bytes = a["price_message_bytes"], a["feed_event_bytes"], a["fixture_item_bytes"]
    tasks = facts.path.tasks
    result = Estimate()

    # Shared by both designs: the ingest API, DynamoDB, the price topic's fan-out and IoT Core.
    writes = tasks["dynamodb:updateItem"] * _chunks(fixture_bytes, DYNAMODB_WRITE_UNIT_BYTES)
    writes += tasks["dynamodb:putItem"] * _chunks(book_bytes, DYNAMODB_WRITE_UNIT_BYTES)  # the stored book
    reads = tasks["dynamodb:getItem"] * _chunks(fixture_bytes, DYNAMODB_READ_UNIT_BYTES)
    price_topic_publishes = tasks["sns:publish"] * _chunks(book_bytes, SNS_SQS_CHUNK_BYTES)
    iot_chunks = _chunks(book_bytes + IOT_TOPIC_BYTES, IOT_CHUNK_BYTES)
    # The bridge publishes retained: metered as PUBLISH and as RETAINED; then once per subscriber.
    iot_messages = facts.iot_publishing_subscribers * iot_chunks * (2 + subscribers)
    connection_minutes = subscribers * MILLION / events_per_second / 60 / MILLION  # per event
    sqs_requests = facts.queue_subscriptions * SQS_REQUESTS_PER_MESSAGE * _chunks(book_bytes, SNS_SQS_CHUNK_BYTES)
    bridge_memory = list(facts.lambda_subscriber_memory_mb)
    shared = [
        CostLine(
            "API Gateway REST (ingest)",
            f"{facts.ingest_api_requests} request",
            prices.usd("api_gateway_rest_request", facts.ingest_api_requests * MILLION),
        ),
        CostLine(
            "DynamoDB writes", f"{writes} WRU", prices.usd("dynamodb_on_demand_write_request_unit", writes * MILLION)
        ),
        CostLine("DynamoDB reads", f"{reads} RRU", prices.usd("dynamodb_on_demand_read_request_unit", reads * MILLION)),
        CostLine(
            "SNS price topic publish",
            f"{price_topic_publishes} publish",
            prices.usd("sns_publish", price_topic_publishes * MILLION),
        ),
        CostLine(
            "SNS deliveries to SQS and Lambda",
            f"{facts.queue_subscriptions + len(bridge_memory)} deliveries",
            prices.usd("sns_delivery_to_sqs_or_lambda", (facts.queue_subscriptions + len(bridge_memory)) * MILLION),
        ),
        CostLine(
            "SQS on-prem queues", f"{sqs_requests} requests", prices.usd("sqs_standard_request", sqs_requests * MILLION)
        ),
        *_lambda_lines(prices, "IoT bridge", bridge_memory, [handler_ms] * len(bridge_memory), len(bridge_memory)),
        CostLine(
            f"IoT Core messages ({subscribers} subscribers)",
            f"{iot_messages} messages of 5 KB",
            prices.usd("iot_core_message", iot_messages * MILLION),
        ),
        CostLine(
            f"IoT Core connections ({subscribers} subscribers at {events_per_second:g} events/s)",
            f"{connection_minutes:.5f} connection-min",
            prices.usd("iot_core_connection_minute", connection_minutes * MILLION),
        ),
        CostLine(
            "KMS", f"{a['kms_requests_per_event']} requests", prices.usd("kms_request", a["kms_requests_per_event"])
        ),
    ]

    # The engine: one Express execution; its tasks run without compute.
    duration_ms = sum(
        count
        * (
            latency["dynamodb"]
            if action.startswith("dynamodb:")
            else latency["sns"]
            if action.startswith("sns:")
            else latency["sqs"]
            if action.startswith("sqs:")
            else latency["lambda_invoke_overhead"] + handler_ms
            if action.startswith("lambda:")
            else 0
        )
        for action, count in tasks.items()
    )
    billed_seconds = math.ceil(duration_ms / EXPRESS_BILLING_INCREMENT_MS) * EXPRESS_BILLING_INCREMENT_MS / 1000
    billed_gb = math.ceil(a["express_memory_mb"] / EXPRESS_MEMORY_CHUNK_MB) * EXPRESS_MEMORY_CHUNK_MB / KB
    express_gb_seconds = billed_seconds * billed_gb
    invoked = list(facts.invoked_memory_mb)
    workflow_log_bytes = _workflow_log_bytes(facts, a, event_bytes + fixture_bytes, book_bytes)
    lambda_log_bytes = a["lambda_log_bytes_per_invocation"] * (len(invoked) + len(bridge_memory))
    engine_traces = facts.workflow_xray_sampling_rate + a["lambda_xray_sampling_rate"] * len(bridge_memory)
    result.engine = [
        CostLine("Step Functions Express requests", "1 request", prices.usd("step_functions_express_request", MILLION)),
        CostLine(
            "Step Functions Express duration",
            f"{billed_seconds:g} s x {billed_gb:g} GB",
            prices.usd("step_functions_express_gb_second", express_gb_seconds * MILLION),
        ),
        *_lambda_lines(prices, "pricing", invoked, [handler_ms] * len(invoked), len(invoked)),
        *shared,
        CostLine(
            "CloudWatch Logs (workflow ALL + Lambda)",
            f"{workflow_log_bytes + lambda_log_bytes} bytes",
            prices.usd("cloudwatch_logs_ingestion_gb", (workflow_log_bytes + lambda_log_bytes) * MILLION / KB**3),
        ),
        CostLine(
            "X-Ray traces", f"{engine_traces:g} traces", prices.usd("xray_trace_recorded", engine_traces * MILLION)
        ),
    ]

    # The baseline: a chain of Lambdas joined by SNS, each billed while it waits on its calls.
    chain = prices.baseline["lambdas"]
    pricing_memory = invoked[0] if invoked else 1024
    chain_memory = [pricing_memory if hop["memory_mb"] == "pricing" else int(hop["memory_mb"]) for hop in chain]
    chain_duration = [
        (handler_ms if hop["work_ms"] == "handler" else float(hop["work_ms"]))
        + sum(latency[call] for call in hop["waits_on"])
        for hop in chain
    ]
    hops = int(prices.baseline["intermediate_sns_publishes"])
    baseline_log_bytes = a["lambda_log_bytes_per_invocation"] * (len(chain) + len(bridge_memory))
    baseline_traces = a["lambda_xray_sampling_rate"] * (1 + len(bridge_memory))
    result.baseline = [
        *_lambda_lines(prices, "chain", chain_memory, chain_duration, len(chain)),
        CostLine(
            "SNS publishes between the chain's Lambdas",
            f"{hops} publishes",
            prices.usd("sns_publish", hops * _chunks(book_bytes, SNS_SQS_CHUNK_BYTES) * MILLION),
        ),
        *shared,
        CostLine(
            "CloudWatch Logs (Lambda)",
            f"{baseline_log_bytes} bytes",
            prices.usd("cloudwatch_logs_ingestion_gb", baseline_log_bytes * MILLION / KB**3),
        ),
        CostLine(
            "X-Ray traces", f"{baseline_traces:g} traces", prices.usd("xray_trace_recorded", baseline_traces * MILLION)
        ),
    ]
    return result


def _workflow_log_bytes(facts: AppFacts, assumptions: dict[str, Any], input_bytes: int, book_bytes: int) -> int:
    """At level ALL: execution started and succeeded, then entered and exited per state, each with the data at
    that point when execution data is included (the book is in it from the pricing task on). Other levels log
    only failures, so nothing on a priced event's path."""
    if facts.workflow_log_level != "ALL":
        return 0
    if not facts.workflow_logs_execution_data:
        input_bytes = book_bytes = 0
    path = facts.path
    overhead = int(assumptions["log_event_overhead_bytes"])
    total = 2 * (overhead + input_bytes)
    carrying_book = False
    for action in path.state_actions:
        total += overhead + input_bytes + (book_bytes if carrying_book else 0)
        carrying_book = carrying_book or (action or "").startswith("lambda:invoke")
        total += overhead + input_bytes + (book_bytes if carrying_book else 0)
    return total


def to_markdown(result: Estimate, *, subscribers: int) -> str:
    rows = [
        "| Cost line | Engine per event | Engine USD per 1M events | Baseline per event | Baseline USD per 1M events |",
        "|---|---|--:|---|--:|",
    ]
    baseline = {line.service: line for line in result.baseline}
    engine = {line.service: line for line in result.engine}
    for service in list(engine) + [name for name in baseline if name not in engine]:
        mine, theirs = engine.get(service), baseline.get(service)
        rows.append(
            f"| {service} | {mine.quantity if mine else '-'} | {_usd(mine)} "
            f"| {theirs.quantity if theirs else '-'} | {_usd(theirs)} |"
        )
    rows.append(
        f"| **Total ({subscribers} browser subscribers)** | | **{Estimate.total(result.engine):.2f}** "
        f"| | **{Estimate.total(result.baseline):.2f}** |"
    )
    return "\n".join(rows) + "\n"


def _usd(line: CostLine | None) -> str:
    return "-" if line is None else f"{line.usd_per_million_events:.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Estimate the cost of a million feed events")
    parser.add_argument("assembly", nargs="?", type=Path, default=Path("cdk.out"))
    parser.add_argument("--subscribers", type=int, default=100, help="browser subscribers on the price topics")
    parser.add_argument("--events-per-second", type=float, default=50.0, help="arrival rate (sets connection time)")
    parser.add_argument("--prices", type=Path, default=UNIT_PRICES_FILE)
    arguments = parser.parse_args(argv)
    if arguments.subscribers < 0:
        parser.error("--subscribers: must be 0 or more")
    if arguments.events_per_second <= 0:
        parser.error("--events-per-second: must be above 0")
    data = json.loads(arguments.prices.read_text())
    facts = read_app_facts(read_stacks(arguments.assembly))
    result = estimate(
        facts, PriceBook(data), subscribers=arguments.subscribers, events_per_second=arguments.events_per_second
    )
    print(
        f"Cost of 1,000,000 feed events, {data['region']}, unit prices checked {data['checked']} ({arguments.prices})"
    )
    print(f"Workflow path priced: {' -> '.join(facts.path.states)}\n")
    print(to_markdown(result, subscribers=arguments.subscribers))


if __name__ == "__main__":
    main()
