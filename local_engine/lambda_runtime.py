"""Running the real handlers: every Lambda invocation moto makes lands here, with that function's environment.

Two paths reach a function. Workflow ``lambda:invoke`` tasks go through moto's Lambda backend, whose
``_invoke_lambda`` is the one place to run real code (moto would need Docker). SNS deliveries to Lambda
are taken over before moto builds its own placeholder event: the handler receives the event AWS sends,
asynchronously, with Lambda's retries and on-failure destination.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from local_engine.provisioner import AsyncInvokeConfig, LocalFunctionSpec, function_name_of


# Every function runs with these on top of its own environment: fake credentials (nothing may reach AWS),
# no X-Ray daemon, and the iot-data host that moto serves (the engine relays those publishes to MQTT).
def local_overrides(region: str) -> dict[str, str]:
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local-engine",
        "AWS_SECRET_ACCESS_KEY": "local-engine",
        "AWS_SESSION_TOKEN": "local-engine",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "IOT_DATA_ENDPOINT": f"data-ats.iot.{region}.amazonaws.com",
    }


@dataclass(frozen=True)
class LocalLambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Invocation:
    function: str
    request_id: str
    started_at: float
    duration_ms: float
    errored: bool
    payload: str  # the response, or Lambda's error document


class InjectedCrash(RuntimeError):
    """The function failed (an injected fault): Lambda returns an error document."""


@dataclass
class InjectedFaults:
    """Faults to inject into the next invocations of one function.

    ``throttles``: the Invoke API answers 429 TooManyRequestsException (the service failed, not the function);
    ``crashes``: the handler raises (the function failed). Each injected fault is used once.
    """

    throttles: int = 0
    crashes: int = 0


@dataclass
class LambdaRuntime:
    """Runs registered functions' real handlers; one invocation at a time, as process environment is shared."""

    region: str
    log_stream: IO[str]
    functions: dict[str, LocalFunctionSpec] = field(default_factory=dict)
    async_configs: dict[str, AsyncInvokeConfig] = field(default_factory=dict)
    faults: dict[str, InjectedFaults] = field(default_factory=dict)  # by function name
    async_retry_delay_seconds: float = 0.05  # Lambda waits about a minute, then two; locally, a moment
    invocations: list[Invocation] = field(default_factory=list)
    async_failures: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="lambda-async"))
    _pending: list[Future[None]] = field(default_factory=list)
    # Who a function's AWS calls are made as (local_engine/iam_enforcement.py): (function name, handler) -> a block.
    acting_as: Callable[[str, str], contextlib.AbstractContextManager[None]] = lambda _name, _handler: (
        contextlib.nullcontext()
    )

    def register(self, functions: dict[str, LocalFunctionSpec], async_configs: dict[str, AsyncInvokeConfig]) -> None:
        self.functions.update(functions)
        self.async_configs.update(async_configs)

    def preload(self) -> None:
        """Import every handler now, under its own environment, as Lambda's init phase would. A new engine is a
        cold start: what a handler cached from an earlier engine's environment (table names, pool ids, clients)
        is forgotten through its module's ``reset_cached_collaborators``."""
        for function in self.functions.values():
            with self._lock, self._environment(function):
                _load_handler(function.handler)
                module = sys.modules[function.handler.rpartition(".")[0]]
                reset = getattr(module, "reset_cached_collaborators", None)
                if reset is not None:
                    reset()

    def function_for(self, name_or_arn: str) -> LocalFunctionSpec | None:
        return self.functions.get(function_name_of(name_or_arn))

    def invoke(self, function: LocalFunctionSpec, event: Any) -> Invocation:
        """Run the handler once; an exception becomes Lambda's error document, as AWS returns it."""
        request_id = str(uuid.uuid4())
        with (
            self._lock,
            self._environment(function),
            contextlib.redirect_stdout(self.log_stream),
            self.acting_as(function.name, function.handler),
        ):
            started = time.perf_counter()
            try:
                self._maybe_crash(function)
                handler = _load_handler(function.handler)
                context = LocalLambdaContext(
                    function_name=function.name,
                    memory_limit_in_mb=function.memory_size,
                    invoked_function_arn=function.arn,
                    aws_request_id=request_id,
                    deadline=time.monotonic() + function.timeout_seconds,
                )
                payload, errored = json.dumps(handler(event, context)), False
            except Exception as error:  # noqa: BLE001 - any handler failure is the function's error document
                payload = json.dumps(
                    {
                        "errorMessage": str(error),
                        "errorType": type(error).__name__,
                        "stackTrace": traceback.format_exception(error)[-5:],
                    }
                )
                errored = True
            duration_ms = (time.perf_counter() - started) * 1000
        invocation = Invocation(function.name, request_id, started, duration_ms, errored, payload)
        self.invocations.append(invocation)
        return invocation

    def inject(self, function_name: str, *, throttles: int = 0, crashes: int = 0) -> None:
        faults = self.faults.setdefault(function_name, InjectedFaults())
        faults.throttles += throttles
        faults.crashes += crashes

    def take_throttle(self, function: LocalFunctionSpec) -> bool:
        faults = self.faults.get(function.name)
        if faults is None or faults.throttles <= 0:
            return False
        faults.throttles -= 1
        return True

    def _maybe_crash(self, function: LocalFunctionSpec) -> None:
        faults = self.faults.get(function.name)
        if faults is not None and faults.crashes > 0:
            faults.crashes -= 1
            raise InjectedCrash(f"injected fault in {function.name}")

    @contextlib.contextmanager
    def _environment(self, function: LocalFunctionSpec) -> Iterator[None]:
        wanted = {**function.environment, **local_overrides(self.region), "AWS_LAMBDA_FUNCTION_NAME": function.name}
        saved = {key: os.environ.get(key) for key in wanted}
        os.environ.update(wanted)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def invoke_async(self, function: LocalFunctionSpec, event: Any, send_to_queue: Callable[[str, str], None]) -> None:
        """Lambda's asynchronous invocation: retries, then the on-failure destination; never lost."""
        config = self.async_configs.get(function.name, AsyncInvokeConfig(2, None))

        def run() -> None:
            attempts = 1 + config.maximum_retry_attempts
            for attempt in range(1, attempts + 1):
                invocation = self.invoke(function, event)
                if not invocation.errored:
                    return
                if attempt < attempts:
                    time.sleep(self.async_retry_delay_seconds * attempt)
            record = _destination_record(function, event, invocation, attempts)
            self.async_failures.append(record)
            if config.on_failure_destination:
                with self.acting_as(function.name, f"{function.handler} (on-failure destination)"):
                    send_to_queue(config.on_failure_destination, json.dumps(record))

        self._pending.append(self._pool.submit(run))

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for every asynchronous invocation started so far."""
        deadline = time.monotonic() + timeout
        while self._pending:
            future = self._pending.pop(0)
            future.result(timeout=max(0.0, deadline - time.monotonic()))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def _destination_record(
    function: LocalFunctionSpec, event: Any, invocation: Invocation, attempts: int
) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination (documented shape)."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": f"{function.arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": json.loads(invocation.payload),
    }


def sns_lambda_event(
    *,
    topic_arn: str,
    subscription_arn: str,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
    region: str,
) -> dict[str, Any]:
    """The event SNS delivers to a Lambda subscriber, with the message attributes that were published."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "SignatureVersion": "1",
                    "Signature": "bG9jYWwtZW5naW5l",
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {
                        name: {"Type": value["Type"], "Value": value["Value"]}
                        for name, value in (message_attributes or {}).items()
                    },
                },
            }
        ]
    }
