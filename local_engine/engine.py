"""The local engine: the synthesized app in moto, the real ASL in moto's interpreter, the real handlers, real MQTT."""

from __future__ import annotations

import contextlib
import io
import json
import marshal
import os
import re
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from local_engine.cloud_assembly import read_stacks
from local_engine.dynamodb_atomicity import serialize_item_operations
from local_engine.faults import FaultPlan, scale_retry_waits
from local_engine.iam_enforcement import IamEnforcement
from local_engine.iot_core import refuse_invalid_publish
from local_engine.lambda_runtime import LambdaRuntime, sns_lambda_event
from local_engine.mqtt import MosquittoBroker, MqttRelay
from local_engine.patching import patched as _patched
from local_engine.provisioner import ProvisionedApp, provision
from stacks.constants import EXECUTION_INPUT_LIMIT_BYTES

REGION = "eu-west-1"
# The engine takes over a few of moto's internals (the Lambda runner, SNS -> Lambda delivery, the
# execution worker's hooks). They are not a public API: an upgrade must be checked against them.
SUPPORTED_MOTO_VERSION = "5.2.5"
PRICE_SUBSCRIPTION = "trading/v1/fixtures/+/prices"

OutcomeKind = Literal["applied", "skipped", "quarantined"]
# The workflow's terminal states and what each means for the accounting (statemachines/feed_event.asl.json).
OUTCOME_BY_FINAL_STATE: dict[str, OutcomeKind] = {
    "PricesPublished": "applied",
    "SupersededBeforePublishing": "applied",
    "SkippedAsDuplicate": "skipped",
    "SkippedAsStale": "skipped",
    "EventQuarantined": "quarantined",
}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class StateStep:
    """One state of one execution: the local counterpart of a row in the Step Functions console."""

    name: str
    type: str
    entered_at: float
    duration_ms: float
    input: Any
    output: Any


@dataclass(frozen=True)
class FinishedExecution:
    """What the engine reads from an execution when moto reports it terminated."""

    status: str
    final_state: str
    error: str | None
    cause: str | None
    quarantine_failure: dict[str, Any] | None
    output: str | None = None


@dataclass(frozen=True)
class Outcome:
    event: Any
    execution_name: str
    execution_arn: str
    status: str
    final_state: str
    kind: OutcomeKind
    reason: str | None
    duration_ms: float


@dataclass
class Accounting:
    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    final_states: Counter[str] = field(default_factory=Counter)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "applied": self.outcomes["applied"],
            "skipped": self.outcomes["skipped"],
            "quarantined": self.outcomes["quarantined"],
            "final_states": dict(sorted(self.final_states.items())),
            "quarantine_reasons": dict(sorted(self.quarantine_reasons.items())),
        }


def execution_name_from(base: str, taken: set[str]) -> str:
    """``base``, or ``base-redelivery-N`` if ``base`` ran before in this engine (see execution_name)."""
    name, attempt = base, 1
    while name in taken:
        attempt += 1
        name = f"{base}-redelivery-{attempt}"
    taken.add(name)
    return name


def execution_name(event: Any, taken: set[str]) -> str:
    """The ingest API's deterministic name (``feed-{fixture_id}-{sequence}``), made unique locally.

    AWS does not enforce unique names for EXPRESS executions, moto does: a redelivered event gets a
    ``-redelivery-N`` suffix here so that it still runs, as it would in AWS, and meets the ordering guard.
    """
    if isinstance(event, dict):
        fixture = _NAME_UNSAFE.sub("_", str(event.get("fixture_id", "unknown")))[:48]
        base = f"feed-{fixture}-{_NAME_UNSAFE.sub('_', str(event.get('sequence', 'none')))[:16]}"
    else:
        base = "feed-not-an-object"
    return execution_name_from(base, taken)


class LocalEngine:
    """Provision ``cdk.out`` into moto and run feed events through the deployed workflow, with real handlers.

    Use as a context manager. Events for one fixture run one at a time, in the order submitted (as the
    on-prem forwarder sends them); different fixtures run concurrently.
    """

    def __init__(
        self,
        assembly_dir: Path,
        *,
        mqtt: bool = True,
        concurrency: int = 8,
        lambda_log: Path | None = None,
        on_price_message: Callable[[str, dict[str, Any]], None] | None = None,
        faults: FaultPlan | None = None,
        retry_wait_scale: float = 0.01,
        enforce_iam: bool | None = None,
    ) -> None:
        self.assembly_dir = assembly_dir
        self.faults = faults  # local_engine/faults.py: throttling, 5xx and timeouts per Lambda and integration
        self.retry_wait_scale = retry_wait_scale  # the workflow's Retry waits, shrunk locally (1 s -> 10 ms)
        self.use_mqtt = mqtt
        # IAM enforced as AWS would (local_engine/iam_enforcement.py); LOCAL_ENGINE_IAM=off turns it off.
        self.enforce_iam = os.environ.get("LOCAL_ENGINE_IAM", "on") != "off" if enforce_iam is None else enforce_iam
        self.iam: IamEnforcement | None = None
        self.concurrency = concurrency
        self.on_price_message = on_price_message
        self._lambda_log_file = lambda_log
        self._log_stream: io.TextIOBase | Any = None
        self._mock: Any = None
        self._patches: contextlib.ExitStack | None = None
        self.app: ProvisionedApp | None = None
        self.runtime: LambdaRuntime | None = None
        self.broker: MosquittoBroker | None = None
        self.relay: MqttRelay | None = None
        self.mqtt_messages: list[tuple[str, bytes, float]] = []
        self._subscriber: Any = None
        self._session = boto3.session.Session(
            aws_access_key_id="local-engine", aws_secret_access_key="local-engine", region_name=REGION
        )
        self._clients: dict[str, Any] = {}
        self._names: set[str] = set()
        self._awaited: set[str] = set()  # started elsewhere, and someone waits for the end (a sync execution)
        self.outcomes: list[Outcome] = []
        self.accounting = Accounting()
        self.provision_seconds = 0.0
        self._queues: dict[str, deque[tuple[Any, Callable[[Outcome], None] | None]]] = defaultdict(deque)
        self._busy: set[str] = set()
        self._work = threading.Condition()
        self._workers: list[threading.Thread] = []
        self._stopping = False
        self._finished: dict[str, FinishedExecution] = {}
        self._started_elsewhere: dict[str, tuple[str, Any, float]] = {}  # arn -> (name, event, start time)
        self._finished_signal = threading.Condition()

    # -- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> LocalEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]

    def start(self) -> None:
        _check_moto_version()
        stacks = read_stacks(self.assembly_dir)
        self._log_stream = self._lambda_log_file.open("a", encoding="utf-8") if self._lambda_log_file else io.StringIO()
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        self.runtime = LambdaRuntime(region=REGION, log_stream=self._log_stream)
        self._patches = contextlib.ExitStack()
        self._install_patches(self._patches)
        scale_retry_waits(self._patches, self.retry_wait_scale)
        if self.faults is not None:
            self._patches.enter_context(self.faults.active())
        if self.use_mqtt:
            # Subscriptions are logged so a test can count a console's SUBSCRIBEs from the broker's side.
            self.broker = MosquittoBroker(log_subscriptions=True).start()
            self.relay = MqttRelay(self.broker.port).connect()
            self._subscribe()
        started = time.perf_counter()
        self.app = provision(stacks, clients=self.client, region=REGION, account=DEFAULT_ACCOUNT_ID)
        self.provision_seconds = time.perf_counter() - started
        self.runtime.register(self.app.functions, self.app.async_configs)
        if self.enforce_iam:
            self.iam = IamEnforcement.from_app(stacks, self.app, account=DEFAULT_ACCOUNT_ID, region=REGION)
            self.iam.install(self._patches)
            self.runtime.acting_as = self.iam.acting_as_function
        self.runtime.preload()
        self._route_powertools_logs()
        for index in range(self.concurrency):
            worker = threading.Thread(target=self._work_loop, name=f"feed-worker-{index}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        with self._work:
            self._stopping = True
            self._work.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)
        if self.runtime is not None:
            with contextlib.suppress(Exception):
                self.runtime.drain(timeout=10)
            self.runtime.shutdown()
        if self._subscriber is not None:
            self._subscriber.loop_stop()
            self._subscriber.disconnect()
        if self.relay is not None:
            self.relay.close()
        if self.broker is not None:
            self.broker.stop()
        if self._patches is not None:
            self._patches.close()
        if self._mock is not None:
            self._mock.stop()
        if self._lambda_log_file and self._log_stream:
            self._log_stream.close()

    # -- the app -----------------------------------------------------------------------------------

    @property
    def feed_state_machine_arn(self) -> str:
        assert self.app is not None
        return self.app.one("AWS::StepFunctions::StateMachine", "FeedEvent").ref

    def queue_url(self, logical_id_part: str) -> str:
        assert self.app is not None
        return self.app.one("AWS::SQS::Queue", logical_id_part).ref

    def table_name(self, logical_id_part: str) -> str:
        assert self.app is not None
        return self.app.one("AWS::DynamoDB::Table", logical_id_part).ref

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting on every queue, by the queue's logical id (without receiving them)."""
        assert self.app is not None
        depths = {}
        for queue in self.app.of_type("AWS::SQS::Queue"):
            attributes = self.client("sqs").get_queue_attributes(
                QueueUrl=queue.ref, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            depths[_short_logical_id(queue.logical_id)] = int(attributes["ApproximateNumberOfMessages"])
        return depths

    def receive_all(self, logical_id_part: str) -> list[dict[str, Any]]:
        """Receive (and delete) every message on a queue, bodies parsed as JSON where they are JSON."""
        url = self.queue_url(logical_id_part)
        messages: list[dict[str, Any]] = []
        while True:
            batch = (
                self.client("sqs")
                .receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
                .get("Messages", [])
            )
            if not batch:
                return messages
            for message in batch:
                with contextlib.suppress(json.JSONDecodeError):
                    message["Body"] = json.loads(message["Body"])
                messages.append(message)
                self.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    # -- feeding events ----------------------------------------------------------------------------

    def submit(self, event: Any, on_done: Callable[[Outcome], None] | None = None) -> None:
        """Queue one feed event; it runs after the earlier events of the same fixture."""
        key = event.get("fixture_id") if isinstance(event, dict) and isinstance(event.get("fixture_id"), str) else ""
        with self._work:
            self.accounting.events += 1
            self._queues[key or "<no fixture>"].append((event, on_done))
            self._work.notify()

    def function_name(self, logical_id_part: str) -> str:
        assert self.app is not None
        return self.app.one("AWS::Lambda::Function", logical_id_part).ref

    def inject_lambda_faults(self, logical_id_part: str, *, throttles: int = 0, crashes: int = 0) -> None:
        """Make the next invocations of a function fail: throttled by the service, or crashing in the handler."""
        assert self.runtime is not None
        self.runtime.inject(self.function_name(logical_id_part), throttles=throttles, crashes=crashes)

    def quarantine_unparseable(self, line: str) -> None:
        """A feed line that is not JSON never reaches the workflow (the ingest API answers 400); it is kept
        on the quarantine queue all the same, with the reason, so the accounting still covers it."""
        try:
            json.loads(line)
            detail = "not a JSON object"
        except json.JSONDecodeError as error:
            detail = f"not JSON ({error.msg} at character {error.pos})"
        body = {
            "error": "MalformedEvent",
            "cause": f"event: {detail}",
            "execution_name": None,
            "execution_id": None,
            "quarantined_at": datetime.now(UTC).isoformat(),
            "event": line,
        }
        self.client("sqs").send_message(QueueUrl=self.queue_url("QuarantinedEvents"), MessageBody=json.dumps(body))
        with self._work:
            self.accounting.events += 1
            self.accounting.outcomes["quarantined"] += 1
            self.accounting.final_states["RejectedAtIngest"] += 1
            self.accounting.quarantine_reasons["MalformedEvent"] += 1

    def run(self, event: Any) -> Outcome:
        """Run one event to completion and return its outcome (for tests and the trace command)."""
        done = threading.Event()
        result: list[Outcome] = []

        def keep(outcome: Outcome) -> None:
            result.append(outcome)
            done.set()

        self.submit(event, keep)
        if not done.wait(timeout=120):
            raise TimeoutError("the execution did not finish within 120 s")
        return result[0]

    def drain(self, timeout: float = 600.0) -> None:
        """Wait until every submitted event has finished, and every asynchronous delivery with it."""
        deadline = time.monotonic() + timeout
        with self._work:
            while any(self._queues.values()) or self._busy or self._started_elsewhere:
                if not self._work.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError("events still running after the drain timeout")
        assert self.runtime is not None
        self.runtime.drain(timeout=max(1.0, deadline - time.monotonic()))
        if self.use_mqtt:
            self._wait_for_mqtt(deadline)

    def _work_loop(self) -> None:
        while True:
            with self._work:
                key = None
                while key is None:
                    if self._stopping:
                        return
                    key = next((k for k, q in self._queues.items() if q and k not in self._busy), None)
                    if key is None:
                        self._work.wait()
                event, on_done = self._queues[key].popleft()
                self._busy.add(key)
            try:
                outcome = self._execute(event)
                self._account(outcome)
                if on_done is not None:
                    on_done(outcome)
            finally:
                with self._work:
                    self._busy.discard(key)
                    self._work.notify_all()

    def _execute(self, event: Any) -> Outcome:
        with self._work:
            name = execution_name(event, self._names)
        started = time.perf_counter()
        arn = self.client("stepfunctions").start_execution(
            stateMachineArn=self.feed_state_machine_arn, name=name, input=json.dumps(event)
        )["executionArn"]
        finished = self._wait_for_execution(arn)
        return self._outcome(event, name, arn, finished, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _outcome(event: Any, name: str, arn: str, finished: FinishedExecution, duration_ms: float) -> Outcome:
        kind = OUTCOME_BY_FINAL_STATE.get(finished.final_state, "quarantined")
        reason = None
        if kind == "quarantined":
            failure = finished.quarantine_failure or {"Error": finished.error, "Cause": finished.cause}
            reason = f"{failure.get('Error')}: {failure.get('Cause')}"
        return Outcome(event, name, arn, finished.status, finished.final_state, kind, reason, duration_ms)

    def _account(self, outcome: Outcome) -> None:
        with self._work:
            self.outcomes.append(outcome)
            self.accounting.outcomes[outcome.kind] += 1
            self.accounting.final_states[outcome.final_state] += 1
            if outcome.kind == "quarantined" and outcome.reason:
                self.accounting.quarantine_reasons[outcome.reason.split(":", 1)[0]] += 1
            self._work.notify_all()

    def start_execution_named(
        self, state_machine_arn: str, name: str, execution_input: str, *, await_result: bool = False
    ) -> str:
        """Start an execution as an API integration does (asynchronously), under the name it asks for.

        Used by the local gateway. The outcome is accounted like a submitted event's when it ends; a name
        already taken gets the engine's ``-redelivery-N`` suffix, since AWS Express does not reject it.
        """
        with self._work:
            unique = execution_name_from(name, self._names)
            self.accounting.events += 1
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{unique}"
        try:
            event = json.loads(execution_input)
        except json.JSONDecodeError:
            event = execution_input
        with self._finished_signal:
            self._started_elsewhere[arn] = (unique, event, time.perf_counter())
            if await_result:
                self._awaited.add(arn)
        try:
            started = self.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=unique, input=execution_input
            )["executionArn"]
        except Exception:
            with self._finished_signal, self._work:
                self._started_elsewhere.pop(arn, None)
                self.accounting.events -= 1
            raise
        if started != arn:
            raise RuntimeError(f"moto named the execution {started}, not {arn}: the engine's ARN rule needs updating")
        return arn

    def run_sync_execution(self, state_machine_arn: str, name: str, execution_input: str) -> dict[str, Any]:
        """``StartSyncExecution``, which moto lacks: start, wait for the end, answer in that API's response shape.

        Used by the local gateway. Feed events (the ingest API) are accounted like submitted ones; trader
        commands are not feed events and are not. An input over Step Functions' 256 KB is refused as the service
        refuses it (``ValidationException``, HTTP 400), which moto does not check.
        """
        if len(execution_input.encode()) > EXECUTION_INPUT_LIMIT_BYTES:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": f"1 validation error detected: Value at 'input' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {EXECUTION_INPUT_LIMIT_BYTES}",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "StartSyncExecution",
            )
        if state_machine_arn == self.feed_state_machine_arn:
            arn = self.start_execution_named(state_machine_arn, name, execution_input, await_result=True)
            unique = arn.rsplit(":", 1)[1]
        else:
            with self._work:
                unique = execution_name_from(name, self._names)
            arn = self.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=unique, input=execution_input
            )["executionArn"]
        finished = self._wait_for_execution(arn)
        result: dict[str, Any] = {"executionArn": arn, "stateMachineArn": state_machine_arn, "name": unique}
        result["status"] = finished.status
        if finished.status == "SUCCEEDED":
            # StartSyncExecution's output is JSON text; moto keeps the execution's output as a value.
            output = finished.output
            result["output"] = output if isinstance(output, str) or output is None else json.dumps(output)
        else:
            result["error"], result["cause"] = finished.error, finished.cause
        return result

    def invoke_function(self, name_or_arn: str, event: Any) -> Any:
        """Run a function's real handler synchronously (an API's Lambda proxy integration)."""
        assert self.runtime is not None, "start the engine first"
        spec = self.runtime.function_for(name_or_arn)
        if spec is None:
            raise KeyError(f"{name_or_arn}: no such function in the app")
        return self.runtime.invoke(spec, event)

    def _wait_for_execution(self, arn: str, timeout: float = 120.0) -> FinishedExecution:
        with self._finished_signal:
            if not self._finished_signal.wait_for(lambda: arn in self._finished, timeout=timeout):
                raise TimeoutError(f"{arn} still running after {timeout} s")
            return self._finished.pop(arn)

    def _record_finished(self, execution: Any) -> None:
        """Called by moto's worker when an execution ends: no polling, no history round trip."""
        events = execution.exec_worker.env.event_manager._history_event_list
        entered = [e["stateEnteredEventDetails"] for e in events if "stateEnteredEventDetails" in e]
        quarantine = next((d for d in entered if d["name"] == "QuarantineEvent"), None)
        finished = FinishedExecution(
            status=execution.exec_status.value,
            final_state=entered[-1]["name"] if entered else "<none>",
            error=getattr(execution, "error", None),
            cause=getattr(execution, "cause", None),
            output=getattr(execution, "output", None),
            quarantine_failure=_parse(quarantine.get("input")).get("failure") if quarantine else None,
        )
        with self._finished_signal:
            started_elsewhere = self._started_elsewhere.get(execution.execution_arn)
            if started_elsewhere is None or execution.execution_arn in self._awaited:
                self._awaited.discard(execution.execution_arn)
                self._finished[execution.execution_arn] = finished
            self._finished_signal.notify_all()
        if started_elsewhere is not None:
            # Accounted first, forgotten second: drain() waits while anything started elsewhere is pending.
            name, event, started = started_elsewhere
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._account(self._outcome(event, name, execution.execution_arn, finished, elapsed_ms))
            with self._finished_signal:
                self._started_elsewhere.pop(execution.execution_arn, None)
            with self._work:
                self._work.notify_all()

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.client("stepfunctions").get_execution_history(
                executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    def trace(self, arn: str) -> list[StateStep]:
        """Each state the execution passed through, with its duration, input and output."""
        steps: list[StateStep] = []
        open_states: dict[str, tuple[str, float, Any]] = {}
        for event in self.history(arn):
            timestamp = event["timestamp"].timestamp()
            if "stateEnteredEventDetails" in event:
                details = event["stateEnteredEventDetails"]
                state_type = event["type"].removesuffix("StateEntered")
                open_states[details["name"]] = (state_type, timestamp, _parse(details.get("input")))
            elif "stateExitedEventDetails" in event:
                details = event["stateExitedEventDetails"]
                state_type, entered, state_input = open_states.pop(details["name"], ("?", timestamp, None))
                steps.append(
                    StateStep(
                        details["name"],
                        state_type,
                        entered,
                        (timestamp - entered) * 1000,
                        state_input,
                        _parse(details.get("output")),
                    )
                )
        for name, (state_type, entered, state_input) in open_states.items():  # Fail/Succeed states never exit
            steps.append(StateStep(name, state_type, entered, 0.0, state_input, None))
        return sorted(steps, key=lambda step: step.entered_at)

    # -- MQTT --------------------------------------------------------------------------------------

    def _subscribe(self) -> None:
        import paho.mqtt.client as mqtt

        assert self.broker is not None
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="local-engine-board")

        def on_connect(client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
            client.subscribe(PRICE_SUBSCRIPTION, qos=1)

        def on_subscribe(*_: Any) -> None:
            subscribed.set()

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            self.mqtt_messages.append((message.topic, message.payload, time.time()))
            if self.on_price_message is not None:
                with contextlib.suppress(Exception):
                    self.on_price_message(message.topic, json.loads(message.payload))

        client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
        client.connect("127.0.0.1", self.broker.port)
        client.loop_start()
        if not subscribed.wait(timeout=10):
            raise RuntimeError("the engine's MQTT subscriber could not subscribe")
        self._subscriber = client

    def _wait_for_mqtt(self, deadline: float) -> None:
        assert self.relay is not None
        while len(self.mqtt_messages) < self.relay.published and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- moto takeovers ----------------------------------------------------------------------------

    def _install_patches(self, stack: contextlib.ExitStack) -> None:
        from moto.awslambda.models import LambdaFunction
        from moto.iotdata.responses import IoTDataPlaneResponse
        from moto.sns.models import Subscription

        engine = self
        runtime = self.runtime
        assert runtime is not None

        original_invoke = LambdaFunction._invoke_lambda

        def invoke_real_handler(function: Any, event: Any = None) -> tuple[str, bool, str]:
            spec = runtime.function_for(function.function_name)
            if spec is None:
                return original_invoke(function, event)
            if runtime.take_throttle(spec):
                from moto.core.exceptions import JsonRESTError

                error = JsonRESTError("TooManyRequestsException", f"Rate exceeded (injected) for {spec.name}")
                error.code = 429
                raise error
            payload = json.loads(event) if isinstance(event, str | bytes) else event
            invocation = runtime.invoke(spec, payload)
            return invocation.payload, invocation.errored, ""

        original_publish = Subscription.publish

        def deliver_to_lambda(
            subscription: Any,
            message: str,
            message_id: str,
            subject: str | None = None,
            message_attributes: dict[str, Any] | None = None,
            *args: Any,
            **kwargs: Any,
        ) -> None:
            spec = runtime.function_for(subscription.endpoint) if subscription.protocol == "lambda" else None
            if spec is None:
                return original_publish(subscription, message, message_id, subject, message_attributes, *args, **kwargs)
            matcher = subscription._filter_policy_matcher
            if matcher is not None and not matcher.matches(message_attributes, message):
                return None
            event = sns_lambda_event(
                topic_arn=subscription.topic_arn,
                subscription_arn=subscription.arn,
                message=message,
                message_id=message_id,
                subject=subject,
                message_attributes=message_attributes,
                region=REGION,
            )
            runtime.invoke_async(spec, event, engine._send_to_queue_arn)
            return None

        def publish_to_broker(response: Any) -> str:
            from urllib.parse import unquote

            topic = response.path.split("/topics/")[-1]
            topic = unquote(topic) if "%" in topic else topic
            query = response.querystring
            qos = int(query.get("qos", ["0"])[0])
            retain = query.get("retain", ["false"])[0].lower() == "true"
            body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
            refuse_invalid_publish(topic)  # IoT Core's topic limits (local_engine/iot_core.py), which moto lacks
            response.iotdata_backend.publish(topic=topic, payload=body)
            if engine.relay is not None:
                engine.relay.publish(topic, body, qos=qos, retain=retain)
            return json.dumps({})

        from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

        original_terminated = BaseExecutionWorkerCommunication.terminated

        def terminated(communication: Any) -> None:
            original_terminated(communication)
            engine._record_finished(communication.execution)

        stack.enter_context(serialize_item_operations())  # DynamoDB's atomic conditional writes
        stack.enter_context(_patched(LambdaFunction, "_invoke_lambda", invoke_real_handler))
        stack.enter_context(_patched(BaseExecutionWorkerCommunication, "terminated", terminated))
        _speed_up_moto_executions(stack)
        _context_start_time_as_text(stack)
        stack.enter_context(_patched(Subscription, "publish", deliver_to_lambda))
        stack.enter_context(_patched(IoTDataPlaneResponse, "publish", publish_to_broker))

    def _send_to_queue_arn(self, queue_arn: str, body: str) -> None:
        assert self.app is not None
        (queue,) = [q for q in self.app.of_type("AWS::SQS::Queue") if q.attributes["Arn"] == queue_arn]
        self.client("sqs").send_message(QueueUrl=queue.ref, MessageBody=body)

    def _route_powertools_logs(self) -> None:
        """Handler logs go to the engine's Lambda log, not the terminal (the board stays readable)."""
        import logging

        assert self.app is not None
        for name in {spec.environment.get("POWERTOOLS_SERVICE_NAME", "") for spec in self.app.functions.values()}:
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(self._log_stream)


def _context_start_time_as_text(stack: contextlib.ExitStack) -> None:
    """``$$.Execution.StartTime`` as AWS gives it, ISO 8601 text (``2026-11-22T15:00:00.123Z``).

    moto 5.2.5 puts a ``datetime`` there, which no task can send: the trader-command workflow writes it to
    DynamoDB as the time of the trader's action.
    """
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_environment

    def environment_with_text_start_time(worker: Any) -> Any:
        environment = original(worker)
        execution = environment.states.context_object.context_object_data["Execution"]
        started = execution.get("StartTime")
        if hasattr(started, "astimezone"):
            utc = started.astimezone(UTC)
            execution["StartTime"] = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
        return environment

    stack.enter_context(_patched(ExecutionWorker, "_get_evaluation_environment", environment_with_text_start_time))


def _speed_up_moto_executions(stack: contextlib.ExitStack) -> None:
    """moto's per-execution costs that change nothing about what an execution does.

    Measured on the feed workflow (about 190 ms an execution before): moto parses the definition with
    ANTLR for every execution, parses every JSONPath with PLY at every evaluation, and deep-copies
    state data (the whole price book included) at every read with ``copy.deepcopy``.

    - A definition is parsed once and its program reused. Evaluation keeps its state in the
      execution's environment, never in the program (checked: only Map and Parallel runs keep
      per-run state on components), so definitions with Map or Parallel are still parsed each time.
    - A JSONPath is parsed once (the parsed expression is immutable).
    - Copies of JSON data (dicts, lists, strings, numbers) are made by a copier specialised for JSON;
      anything else still goes through ``copy.deepcopy``. The result is the same independent copy.
    - The state machine snapshot taken per execution is a shallow copy with its own execution list:
      nothing updates a state machine while the engine runs.
    - Each task's boto3 client is created once per service and region, not once per task (boto3
      clients are safe to share between threads; their creation is serialised here).
    """
    import copy as copy_module
    import functools
    import importlib

    from moto.stepfunctions.parser import models as parser_models
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    programs: dict[str, Any] = {}
    lock = threading.Lock()

    def cached_entrypoint(worker: Any) -> Any:
        definition = worker._evaluation_details.state_machine_details.definition
        if '"Parallel"' in definition or '"Map"' in definition:
            return AmazonStateLanguageParser.parse(definition)[0]
        with lock:
            if definition not in programs:
                programs[definition] = AmazonStateLanguageParser.parse(definition)[0]
            return programs[definition]

    class JsonAwareCopy:
        """Stands in for the `copy` module inside moto's Step Functions evaluation modules."""

        copy = staticmethod(copy_module.copy)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            if memo is None and (value_type := type(value)) in _JSON_CONTAINERS:
                return _copy_json(value) if value_type is not str else value
            if hasattr(value, "executions") and memo is not None:  # the state machine snapshot
                clone = copy_module.copy(value)
                clone.executions = []
                return clone
            return copy_module.deepcopy(value, memo)

    stack.enter_context(_patched(ExecutionWorker, "_get_evaluation_entrypoint", cached_entrypoint))
    _share_task_clients(stack)
    stack.enter_context(_patched(json_path, "parse", functools.lru_cache(maxsize=4096)(json_path.parse)))
    for module_name in (
        "moto.stepfunctions.parser.models",
        "moto.stepfunctions.parser.asl.eval.states",
        "moto.stepfunctions.parser.asl.eval.environment",
        "moto.stepfunctions.parser.asl.eval.event.event_manager",
        "moto.stepfunctions.parser.asl.component.common.string.string_expression",
        "moto.stepfunctions.parser.asl.component.common.path.result_path",
        "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
        "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
        "moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.json_manipulation.json_merge",
    ):
        module = importlib.import_module(module_name)
        if getattr(module, "copy", None) is copy_module:
            stack.enter_context(_patched(module, "copy", JsonAwareCopy))
    del parser_models


_JSON_CONTAINERS = frozenset({dict, list, str})


def _copy_json(value: Any) -> Any:
    """An independent copy of JSON data; marshal's C round trip keeps every type exactly (int stays int)."""
    try:
        return marshal.loads(marshal.dumps(value))
    except ValueError:  # something marshal cannot carry (a datetime, an object): the general way
        import copy as copy_module

        return copy_module.deepcopy(value)


def _share_task_clients(stack: contextlib.ExitStack) -> None:
    import importlib
    import sys

    from moto.stepfunctions.parser.asl.utils import boto_client

    for name in ("dynamodb", "sns", "sqs", "sfn", "events", "unsupported", "aws_sdk"):
        with contextlib.suppress(ImportError):
            importlib.import_module(
                f"moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_{name}"
            )
    importlib.import_module("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils")
    original = boto_client.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def shared_client(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = original(region=region, service=service, state_credentials=None)
            return clients[(region, service)]

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            stack.enter_context(_patched(module, "boto_client_for", shared_client))


def _check_moto_version() -> None:
    import moto

    if moto.__version__ != SUPPORTED_MOTO_VERSION:
        raise RuntimeError(
            f"moto {moto.__version__} is installed; the local engine patches moto {SUPPORTED_MOTO_VERSION}'s "
            "internals (local_engine/engine.py): check them before changing the pin in requirements-dev.txt"
        )


def _parse(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return text


def _short_logical_id(logical_id: str) -> str:
    """``PriceFanoutOnPremPricesQueue1A2B3C4D`` -> ``PriceFanoutOnPremPricesQueue`` (CDK's hash suffix dropped)."""
    return re.sub(r"[0-9A-F]{8}$", "", logical_id)
