"""The query API's Lambda, called with API Gateway's proxy event; its tables are moto's."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from lambdas.handlers import query_trading_state
from lambdas.handlers.query_trading_state import handler
from tests.conftest import FakeLambdaContext
from tests.handlers.conftest import create_prices_table, fixture_item

FIXTURE_ID = "EPL-2026-ARS-CHE"


@pytest.fixture
def tables(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
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
    query_trading_state.reset_cached_collaborators()
    yield dynamodb
    query_trading_state.reset_cached_collaborators()


def _get(path: str, context: FakeLambdaContext, **query: str) -> tuple[int, dict[str, Any]]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "queryStringParameters": query or None,
        "pathParameters": None,
        "requestContext": {"requestId": "query-test", "stage": "v1"},
        "body": None,
        "isBase64Encoded": False,
    }
    response = handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def _token(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _store_books(dynamodb: Any, count: int) -> None:
    dynamodb.put_item(TableName="Fixtures", Item=fixture_item(revision=count))
    for revision in range(1, count + 1):
        dynamodb.put_item(
            TableName="Prices",
            Item={
                "fixture_id": {"S": FIXTURE_ID},
                "revision": {"N": str(revision)},
                "book": {"S": json.dumps({"revision": revision})},
            },
        )


def test_price_history_pages_newest_first_and_its_token_round_trips(
    tables: Any, lambda_context: FakeLambdaContext
) -> None:
    _store_books(tables, 5)
    status, first = _get(f"/fixtures/{FIXTURE_ID}/prices", lambda_context, limit="3")
    assert status == 200 and [b["revision"] for b in first["books"]] == [5, 4, 3]
    status, second = _get(f"/fixtures/{FIXTURE_ID}/prices", lambda_context, limit="3", next_token=first["next_token"])
    assert status == 200 and [b["revision"] for b in second["books"]] == [2, 1]
    assert second["next_token"] is None


@pytest.mark.parametrize(
    "key",
    [
        {"fixture_id": {"S": FIXTURE_ID}, "revision": {"S": "3"}},  # revision as a string
        {"fixture_id": {"S": FIXTURE_ID}, "revision": {"N": "three"}},
        {"fixture_id": {"S": FIXTURE_ID}, "revision": 3},  # not DynamoDB's typed JSON
        {"fixture_id": 5, "revision": {"N": "3"}},
        {"fixture_id": {"S": FIXTURE_ID, "N": "1"}, "revision": {"N": "3"}},
        {"fixture_id": {"S": FIXTURE_ID}},  # a key of the fixture list, not of the history
        ["fixture_id", "revision"],
    ],
)
def test_an_edited_page_token_is_a_400_naming_it(key: object, tables: Any, lambda_context: FakeLambdaContext) -> None:
    # Given a history to page through and a token edited by hand (tokens are opaque, not signed)
    _store_books(tables, 2)
    # When it is sent back
    status, body = _get(f"/fixtures/{FIXTURE_ID}/prices", lambda_context, next_token=_token(key))
    # Then it is refused naming next_token, not passed to DynamoDB (whose validation error would be a 502)
    assert (status, body["field"]) == (400, "next_token")


def test_the_fixture_list_refuses_a_token_with_a_non_string_key(tables: Any, lambda_context: FakeLambdaContext) -> None:
    status, body = _get("/fixtures", lambda_context, next_token=_token({"fixture_id": 5}))
    assert (status, body["field"]) == (400, "next_token")


def test_a_fixture_shows_only_the_overrides_still_in_force(tables: Any, lambda_context: FakeLambdaContext) -> None:
    # Given one override that expired a minute ago and one that holds for another ten
    now = datetime.now(UTC)
    item = fixture_item(revision=3)
    set_at = {"S": (now - timedelta(minutes=5)).isoformat()}
    for selection, for_seconds in (("home", "240"), ("away", "900")):
        item[f"override#match_result#none#{selection}"] = {
            "M": {"price": {"N": "4.5"}, "set_at": set_at, "for_seconds": {"N": for_seconds}}
        }
    tables.put_item(TableName="Fixtures", Item=item)
    # When the fixture is read
    status, body = _get(f"/fixtures/{FIXTURE_ID}", lambda_context)
    # Then only the one in force is listed: the pricing Lambda ignores the other already
    assert status == 200
    assert [o["selection"] for o in body["fixture"]["trading"]["price_overrides"]] == ["away"]


def test_a_fixtures_current_book_is_the_newest_published(tables: Any, lambda_context: FakeLambdaContext) -> None:
    # Given five stored books of which the newest was stored but never published (its publication failed)
    _store_books(tables, 5)
    tables.update_item(
        TableName="Fixtures",
        Key={"fixture_id": {"S": FIXTURE_ID}},
        UpdateExpression="SET published_revision = :published",
        ExpressionAttributeValues={":published": {"N": "4"}},
    )
    # When the fixture is read
    status, body = _get(f"/fixtures/{FIXTURE_ID}", lambda_context)
    # Then its book is the one subscribers received, while the history still holds the other
    assert (status, body["book"]) == (200, {"revision": 4})
    _, history = _get(f"/fixtures/{FIXTURE_ID}/prices", lambda_context)
    assert [book["revision"] for book in history["books"]] == [5, 4, 3, 2, 1]


def test_a_fixture_with_nothing_published_yet_has_no_book(tables: Any, lambda_context: FakeLambdaContext) -> None:
    _store_books(tables, 1)
    status, body = _get(f"/fixtures/{FIXTURE_ID}", lambda_context)
    assert (status, body["book"]) == (200, None)
