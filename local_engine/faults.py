"""Fault injection for the local engine: throttling, 5xx and timeouts on the workflow's Lambda and AWS calls.

A :class:`FaultPlan` gives each target (a Lambda function, or an AWS service the workflow integrates with:
``dynamodb``, ``sns``, ``sqs``) an error rate, a latency and the kinds of fault to draw from. While the plan is
active (``with plan.active(): ...``) every task call the Step Functions interpreter makes to a target rolls
once per attempt:

- ``throttling``: the service refuses the call before doing anything (DynamoDB ``ThrottlingException``,
  SNS ``Throttled``, SQS ``RequestThrottled``, Lambda ``TooManyRequestsException``);
- ``server_error``: the service fails before doing anything (DynamoDB ``InternalServerErrorException``,
  SNS ``InternalError``, SQS ``InternalError``, Lambda ``ServiceException``);
- ``timeout``: the call is MADE, then the task times out (``States.Timeout``). This is the ambiguous fault
  (a write that happened but was never acknowledged), the one that tests idempotency;
- ``crash`` (Lambda targets only; a 5xx for a service): the function itself fails (an unhandled error,
  ``InjectedCrash``): a bug, which the workflow does not retry but quarantines at once.

Rolls are deterministic: each is a hash of the plan's seed, the execution's name, the state's name and
the attempt number, so the same feed with the same seed meets the same faults whatever the thread timing.
Error names are the ones Step Functions reports in AWS (moto names an integration's error
``{Service}.{error code}``, so the injected code is chosen to give that name).

The retry waits of the interpreter are real ``time.sleep`` calls in moto (``retrier_decl``);
:func:`scale_retry_waits` shrinks them in the local engine only (a 1 s ``IntervalSeconds`` becomes 10 ms at
the default scale), so a soak with thousands of faults runs in minutes. Backoff, jitter and MaxAttempts
are unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from local_engine.patching import patched as _patched

FaultKind = Literal["throttling", "server_error", "timeout", "crash"]
FAULT_KINDS: tuple[FaultKind, ...] = ("throttling", "server_error", "timeout", "crash")
TRANSIENT_KINDS: tuple[FaultKind, ...] = ("throttling", "server_error", "timeout")
INTEGRATIONS = ("dynamodb", "sns", "sqs")

# (error code, HTTP status) each service answers, by kind; the code is what names the error in the workflow.
SERVICE_ERRORS: dict[str, dict[str, tuple[str, int]]] = {
    "dynamodb": {"throttling": ("ThrottlingException", 400), "server_error": ("InternalServerErrorException", 500)},
    "sns": {"throttling": ("Throttled", 400), "server_error": ("InternalError", 500)},
    "sqs": {"throttling": ("RequestThrottled", 400), "server_error": ("InternalError", 500)},
    "lambda": {"throttling": ("TooManyRequestsException", 429), "server_error": ("ServiceException", 500)},
}


class InjectedTimeout(TimeoutError):
    """The task's call went through but no answer came back in time: Step Functions reports States.Timeout."""


@dataclass(frozen=True)
class FaultSpec:
    """Faults for one target: ``error_rate`` is the chance that one attempt fails (0 to 1); ``latency_ms`` is
    added to every attempt; ``kinds`` are drawn from evenly when an attempt fails. ``states`` limits the
    faults to those states (empty: every state calling the target); ``failing_attempts`` lets only the first
    N attempts of a state fail (None: any attempt), e.g. 1 for a fault that the first retry heals."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    kinds: tuple[FaultKind, ...] = TRANSIENT_KINDS
    states: tuple[str, ...] = ()
    failing_attempts: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate: must be between 0 and 1, got {self.error_rate}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms: must be >= 0, got {self.latency_ms}")
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds: must be a non-empty subset of {FAULT_KINDS}, got {self.kinds}")


@dataclass(frozen=True)
class InjectedFault:
    execution_name: str
    state_name: str
    attempt: int
    target: str
    kind: FaultKind
    error: str  # the error name the workflow sees


@dataclass
class FaultPlan:
    """Which targets fail, how often and how. Targets: a Lambda function's name (or a part of it, e.g.
    ``ApplyFeedEvent``), or ``dynamodb``, ``sns``, ``sqs``."""

    seed: int = 0
    targets: dict[str, FaultSpec] = field(default_factory=dict)
    injected: list[InjectedFault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def spec_for(self, target: str) -> tuple[str, FaultSpec] | None:
        """The spec of an integration by name, or of the first Lambda target whose key is part of its name."""
        if target in self.targets:
            return target, self.targets[target]
        for key, spec in self.targets.items():
            if key not in INTEGRATIONS and key in target:
                return key, spec
        return None

    def roll(self, execution_name: str, state_name: str, attempt: int, target: str) -> FaultKind | None:
        """The fault for this attempt, or None. Deterministic in (seed, execution, state, attempt)."""
        found = self.spec_for(target)
        if found is None:
            return None
        _, spec = found
        if (spec.states and state_name not in spec.states) or (
            spec.failing_attempts is not None and attempt >= spec.failing_attempts
        ):
            return None
        digest = hashlib.sha256(f"{self.seed}|{execution_name}|{state_name}|{attempt}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= spec.error_rate:
            return None
        return spec.kinds[digest[8] % len(spec.kinds)]

    def counts(self) -> dict[str, int]:
        """Injected faults by ``target/kind``."""
        with self._lock:
            return dict(sorted(Counter(f"{fault.target}/{fault.kind}" for fault in self.injected).items()))

    def executions_with_faults(self) -> set[str]:
        with self._lock:
            return {fault.execution_name for fault in self.injected}

    def _record(self, fault: InjectedFault) -> None:
        with self._lock:
            self.injected.append(fault)

    @contextlib.contextmanager
    def active(self) -> Iterator[FaultPlan]:
        """Inject this plan's faults into every workflow task while the block runs (moto's classes are global)."""
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_dynamodb,
            state_task_service_lambda,
            state_task_service_sns,
            state_task_service_sqs,
        )

        services = {
            "dynamodb": state_task_service_dynamodb.StateTaskServiceDynamoDB,
            "sns": state_task_service_sns.StateTaskServiceSns,
            "sqs": state_task_service_sqs.StateTaskServiceSqs,
            "lambda": state_task_service_lambda.StateTaskServiceLambda,
        }
        with contextlib.ExitStack() as stack:
            for service, task_class in services.items():
                stack.enter_context(_patched(task_class, "_eval_service_task", self._faulty(service, task_class)))
                stack.enter_context(_patched(task_class, "_from_error", _timeout_aware(task_class._from_error)))
            yield self

    def _faulty(self, service: str, task_class: Any) -> Any:
        original = task_class._eval_service_task
        plan = self

        def eval_service_task(task: Any, env: Any, normalised_parameters: dict[str, Any], **kwargs: Any) -> Any:
            target = str(normalised_parameters.get("FunctionName", "")) if service == "lambda" else service
            execution_name, state_name, attempt = _where(env)
            kind = plan.roll(execution_name, state_name, attempt, target)
            found = plan.spec_for(target)
            if found is not None and found[1].latency_ms:
                time.sleep(found[1].latency_ms / 1000)
            if kind is None:
                return original(task, env=env, normalised_parameters=normalised_parameters, **kwargs)
            key = found[0] if found else target
            if kind == "timeout":
                plan._record(InjectedFault(execution_name, state_name, attempt, key, kind, "States.Timeout"))
                original(task, env=env, normalised_parameters=normalised_parameters, **kwargs)
                raise InjectedTimeout(f"injected timeout after {service} call in {state_name}")
            if kind == "crash" and service == "lambda":
                from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

                plan._record(InjectedFault(execution_name, state_name, attempt, key, kind, "InjectedCrash"))
                error_document = {"errorType": "InjectedCrash", "errorMessage": f"injected crash in {target}"}
                raise lambda_eval_utils.LambdaFunctionErrorException("Unhandled", json.dumps(error_document))
            code, status = SERVICE_ERRORS[service]["server_error" if kind == "crash" else kind]
            error_name = f"{_error_prefix(service)}.{code}"
            if service == "sns" and not code.endswith("Exception"):
                error_name += "Exception"
            plan._record(InjectedFault(execution_name, state_name, attempt, key, kind, error_name))
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": f"injected {kind} fault ({execution_name}, {state_name})"},
                    "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected-fault"},
                },
                str(task.resource.api_action),
            )

        return eval_service_task


def _error_prefix(service: str) -> str:
    return {"dynamodb": "DynamoDB", "sns": "SNS", "sqs": "SQS", "lambda": "Lambda"}[service]


def _where(env: Any) -> tuple[str, str, int]:
    """The execution's name, the state's name and the attempt (0 first) the interpreter is evaluating."""
    try:
        data = env.states.context_object.context_object_data
        return str(data["Execution"]["Name"]), str(data["State"]["Name"]), int(data["State"].get("RetryCount", 0))
    except (AttributeError, KeyError, TypeError):
        return "<unknown>", "<unknown>", 0


def _timeout_aware(original: Any) -> Any:
    """An injected timeout is reported as States.Timeout by every task type, as AWS does (moto's service
    tasks otherwise report any non-client error as the service's generic exception)."""

    def from_error(task: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, InjectedTimeout):
            return task._get_timed_out_failure_event(env)
        return original(task, env, ex)

    return from_error


class _ScaledSleep:
    """Stands in for the ``time`` module inside moto's retrier: every retry wait is multiplied by ``scale``."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def scale_retry_waits(stack: contextlib.ExitStack, scale: float) -> None:
    """Make the interpreter's Retry waits ``scale`` times as long (local engine only; AWS waits in full)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    if scale != 1.0:
        stack.enter_context(_patched(retrier_decl, "time", _ScaledSleep(scale)))
