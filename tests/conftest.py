"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.synth import SynthesizedApp


@dataclass(frozen=True)
class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context (the real one exists only inside Lambda)."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a fixed region, so nothing can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def powertools_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "sports-trading-engine")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SportsTradingEngineTests")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")


@pytest.fixture(autouse=True)
def reset_powertools_metrics() -> None:
    """Metrics are module state in Powertools: clear them so one test's metrics never leak into the next."""
    yield
    from lambdas.observability import metrics

    metrics.clear_metrics()
    metrics.clear_default_dimensions()


@pytest.fixture(scope="session")
def dev_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    """The dev stage synthesized once per test run (CDK is imported only by the tiers that need it)."""
    from tests.synth import synthesize

    yield synthesize(tmp_path_factory.mktemp("cdk.out.dev"), "dev")


@pytest.fixture(scope="session")
def prod_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    from tests.synth import synthesize

    yield synthesize(tmp_path_factory.mktemp("cdk.out.prod"), "prod")
