"""Handler tests run the real handler code; AWS is moto (fake credentials, nothing leaves the machine)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "docs" / "samples"


@pytest.fixture
def aws(aws_credentials: None, powertools_env: None) -> Iterator[None]:
    with mock_aws():
        yield


def sample(name: str, **changes: Any) -> dict[str, Any]:
    """A documented sample event (docs/samples/NN-type.json), optionally changed."""
    (path,) = SAMPLES_DIR.glob(f"*-{name}.json") if "-" not in name else [SAMPLES_DIR / f"{name}.json"]
    event = json.loads(path.read_text())
    event.update(changes)
    return event


def fixture_item(**changes: Any) -> dict[str, dict[str, str]]:
    """A fixtures-table item in DynamoDB's typed JSON, as the workflow's conditional update returns it."""
    plain: dict[str, Any] = {
        "fixture_id": "EPL-2026-ARS-CHE",
        "sport": "football",
        "last_sequence": 4,
        "last_event_id": "opta-0004",
        "last_event_type": "goal",
        "updated_at": "2026-11-22T15:17:31.250Z",
        "home_team": "Arsenal",
        "away_team": "Chelsea",
        "competition": "Premier League",
        "kick_off_at": "2026-11-22T15:00:00Z",
        "home_goals_expected": 1.62,
        "away_goals_expected": 1.08,
        "match_phase": "in_play",
        "match_minute": 17,
        "home_score": 1,
        "away_score": 0,
        "home_red_cards": 0,
        "away_red_cards": 0,
        "suspension_reason": "goal",
    }
    plain.update(changes)
    return {
        key: ({"N": str(value)} if isinstance(value, int | float) else {"S": value})
        for key, value in plain.items()
        if value is not None
    }


@pytest.fixture
def trading_tables(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fixtures and prices tables, keyed as the storage stack keys them, named in the environment."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="Fixtures",
        KeySchema=[{"AttributeName": "fixture_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "fixture_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    create_prices_table(dynamodb, "Prices")
    monkeypatch.setenv("FIXTURES_TABLE_NAME", "Fixtures")
    monkeypatch.setenv("PRICES_TABLE_NAME", "Prices")
    return dynamodb


def create_prices_table(dynamodb: Any, name: str) -> None:
    """The prices table keyed as the storage stack keys it: a fixture's books by revision."""
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "fixture_id", "AttributeType": "S"},
            {"AttributeName": "revision", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "fixture_id", "KeyType": "HASH"},
            {"AttributeName": "revision", "KeyType": "RANGE"},
        ],
    )


def fixture_from_feed(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The fixtures-table item (DynamoDB typed JSON) that the feed's domain core leaves after ``events``."""
    from lambdas.adapters.dynamodb_json import to_dynamodb_value
    from tests.unit.domain.feeds import play

    state, _ = play(events)
    assert state is not None
    return {name: to_dynamodb_value(value) for name, value in state.attributes().items() if value is not None}


class InMemoryFixtures:
    """Stands in for lambdas.adapters.fixture_store.FixtureStore: one fixture item, no table."""

    def __init__(self, item: dict[str, Any] | None, *, reads_allowed: bool = True) -> None:
        self._item = item
        self._reads_allowed = reads_allowed

    def fixture(self, fixture_id: str) -> dict[str, Any] | None:
        assert self._reads_allowed, f"read {fixture_id!r}: this request must be refused without a read"
        return self._item if self._item is not None and self._item["fixture_id"]["S"] == fixture_id else None

    def applied_event(self, fixture_id: str, revision: int) -> str | None:
        return None
