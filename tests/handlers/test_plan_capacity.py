"""The capacity planner against moto's DynamoDB (the kick-off index, warm throughput).

moto 5.2.5 does not implement Lambda's provisioned-concurrency APIs, so the Lambda client is a fake at the
client boundary: it keeps the alias's configuration and raises boto3's own not-found error, as Lambda does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from lambdas.handlers import plan_capacity
from stacks.constants import FIXTURES_KICK_OFF_INDEX
from tests.conftest import FakeLambdaContext
from tests.handlers.conftest import create_prices_table

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


class FakeProvisionedConcurrency:
    """Lambda's provisioned-concurrency calls for one alias (moto lacks them)."""

    def __init__(self, configured: int | None = None) -> None:
        self.exceptions = boto3.client("lambda").exceptions
        self.configured = configured
        self.calls: list[str] = []

    def get_provisioned_concurrency_config(self, *, FunctionName: str, Qualifier: str) -> dict[str, Any]:
        self.calls.append(f"get {FunctionName}:{Qualifier}")
        if self.configured is None:
            raise self.exceptions.ProvisionedConcurrencyConfigNotFoundException(
                {"Error": {"Code": "ProvisionedConcurrencyConfigNotFoundException", "Message": "No config"}},
                "GetProvisionedConcurrencyConfig",
            )
        return {"RequestedProvisionedConcurrentExecutions": self.configured}

    def put_provisioned_concurrency_config(
        self, *, FunctionName: str, Qualifier: str, ProvisionedConcurrentExecutions: int
    ) -> None:
        self.calls.append(f"put {FunctionName}:{Qualifier} {ProvisionedConcurrentExecutions}")
        self.configured = ProvisionedConcurrentExecutions

    def delete_provisioned_concurrency_config(self, *, FunctionName: str, Qualifier: str) -> None:
        self.calls.append(f"delete {FunctionName}:{Qualifier}")
        self.configured = None


@pytest.fixture
def planner_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "FIXTURES_TABLE_NAME": "fixtures",
        "KICK_OFF_INDEX_NAME": FIXTURES_KICK_OFF_INDEX,
        "WARM_TABLE_NAMES": "fixtures,prices",
        "PRICING_FUNCTION_NAME": "price-fixture",
        "PRICING_ALIAS": "live",
        "SPORTS": "football",
        "LEAD_MINUTES": "60",
        "MATCH_LENGTH_MINUTES": "150",
        "FIXTURES_THRESHOLD": "3",
        "BUSY_CONCURRENCY": "20",
        "BASELINE_CONCURRENCY": "0",
        "WARM_READS_PER_SECOND": "24000",
        "WARM_WRITES_PER_SECOND": "8000",
    }.items():
        monkeypatch.setenv(name, value)
    plan_capacity.reset_cached_collaborators()
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="fixtures",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "fixture_id", "AttributeType": "S"},
            {"AttributeName": "sport", "AttributeType": "S"},
            {"AttributeName": "kick_off_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "fixture_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": FIXTURES_KICK_OFF_INDEX,
                "KeySchema": [
                    {"AttributeName": "sport", "KeyType": "HASH"},
                    {"AttributeName": "kick_off_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["match_phase"]},
            }
        ],
    )
    create_prices_table(dynamodb, "prices")
    yield dynamodb
    plan_capacity.reset_cached_collaborators()


def _add_fixture(dynamodb: Any, fixture_id: str, kick_off_at: str, phase: str = "pre_match") -> None:
    dynamodb.put_item(
        TableName="fixtures",
        Item={
            "fixture_id": {"S": fixture_id},
            "sport": {"S": "football"},
            "kick_off_at": {"S": kick_off_at},
            "match_phase": {"S": phase},
            "home_team": {"S": "Home"},
        },
    )


def _warm(dynamodb: Any, table: str) -> tuple[int, int]:
    warm = dynamodb.describe_table(TableName=table)["Table"]["WarmThroughput"]
    return warm["ReadUnitsPerSecond"], warm["WriteUnitsPerSecond"]


def _run(dynamodb: Any, lambda_client: FakeProvisionedConcurrency, now: datetime) -> dict[str, Any]:
    clients = plan_capacity.CapacityClients(dynamodb=dynamodb, lambda_=lambda_client)
    return plan_capacity.handler({}, FakeLambdaContext(), clients=clients, now=now)


def test_busy_kick_off_raises_tables_and_concurrency(planner_env: Any) -> None:
    # Given three fixtures kicking off at 15:00 (one sent with a +01:00 offset) and one at 20:00
    dynamodb = planner_env
    _add_fixture(dynamodb, "EPL-A", "2026-11-28T15:00:00Z")
    _add_fixture(dynamodb, "EPL-B", "2026-11-28T15:00:00.000Z")
    _add_fixture(dynamodb, "LIGUE-C", "2026-11-28T16:00:00+01:00")
    _add_fixture(dynamodb, "EPL-LATE", "2026-11-28T20:00:00Z")
    lambda_client = FakeProvisionedConcurrency()

    # When the planner runs at 14:00
    result = _run(dynamodb, lambda_client, NOW)

    # Then the window is busy with the three 15:00 fixtures, both tables are warmed, and the alias gets 20
    assert result["busy"] is True
    assert result["fixtures"] == ["EPL-A", "EPL-B", "LIGUE-C"]
    assert _warm(dynamodb, "fixtures") == (24000, 8000)
    assert _warm(dynamodb, "prices") == (24000, 8000)
    assert lambda_client.calls == ["get price-fixture:live", "put price-fixture:live 20"]


def test_after_the_matches_concurrency_is_relaxed_and_warm_throughput_kept(planner_env: Any) -> None:
    # Given the busy window above has been planned
    dynamodb = planner_env
    for name in ("EPL-A", "EPL-B", "EPL-C"):
        _add_fixture(dynamodb, name, "2026-11-28T15:00:00Z")
    lambda_client = FakeProvisionedConcurrency()
    _run(dynamodb, lambda_client, NOW)

    # When the planner runs at 18:00, the matches finished (full time recorded)
    for name in ("EPL-A", "EPL-B", "EPL-C"):
        _add_fixture(dynamodb, name, "2026-11-28T15:00:00Z", phase="full_time")
    result = _run(dynamodb, lambda_client, datetime(2026, 11, 28, 18, 0, tzinfo=UTC))

    # Then the alias's provisioned concurrency is removed (the stage's baseline is none) and warm throughput,
    # which DynamoDB cannot lower, is left raised
    assert result["busy"] is False
    assert lambda_client.calls[-1] == "delete price-fixture:live"
    assert lambda_client.configured is None
    assert _warm(dynamodb, "fixtures") == (24000, 8000)


def test_a_quiet_run_changes_nothing(planner_env: Any) -> None:
    # Given one fixture only, no provisioned concurrency, and the tables' current warm throughput
    dynamodb = planner_env
    _add_fixture(dynamodb, "EPL-A", "2026-11-28T15:00:00Z")
    lambda_client = FakeProvisionedConcurrency()
    before = _warm(dynamodb, "fixtures")

    # When the planner runs
    result = _run(dynamodb, lambda_client, NOW)

    # Then it only looked: no table update, no concurrency call beyond the read
    assert result == {
        "busy": False,
        "fixtures": ["EPL-A"],
        "warm_throughput_raised": {},
        "provisioned_concurrency": 0,
        "concurrency_change": None,
    }
    assert _warm(dynamodb, "fixtures") == before
    assert lambda_client.calls == ["get price-fixture:live"]


def test_missing_setting_is_named(planner_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the threshold is missing from the environment
    monkeypatch.delenv("FIXTURES_THRESHOLD")
    plan_capacity.reset_cached_collaborators()

    # Then the cold start fails naming it
    with pytest.raises(ValueError, match="FIXTURES_THRESHOLD"):
        _run(planner_env, FakeProvisionedConcurrency(), NOW)
