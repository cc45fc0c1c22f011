"""The query API's Lambda, called with API Gateway's proxy event; its tables are moto's."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.handlers import query_trading_state
from lambdas.handlers.query_trading_state import handler
from tests.conftest import FakeLambdaContext
from tests.handlers.conftest import fixture_item

FIXTURE_ID = "EPL-2026-ARS-CHE"


@pytest.fixture
def tables(trading_tables: Any) -> Iterator[Any]:
    query_trading_state.reset_cached_collaborators()
    yield trading_tables
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


@pytest.mark.parametrize("limit", ["²", "٣", "1e2", "9" * 5000])
def test_a_limit_that_is_not_ascii_digits_is_a_400_naming_it(
    limit: str, tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a limit that str.isdigit() accepts or int() cannot read ('²' is a digit to Python, not to int())
    _store_books(tables, 1)
    # When the fixtures are listed with it
    status, body = _get("/fixtures", lambda_context, limit=limit)
    # Then it is refused naming the parameter, not answered 502 by an exception in the handler
    assert (status, body["field"]) == (400, "limit")


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"[" * 100_000 + b"]" * 100_000).decode(),  # json.loads: RecursionError
        _token({"fixture_id": {"S": "\ud800"}}),  # a lone surrogate: JSON text, but no key DynamoDB has
    ],
    ids=["nested-100000-deep", "lone-surrogate"],
)
def test_a_page_token_no_key_can_be_is_a_400_naming_it(
    token: str, tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # When the fixtures are listed with a token that decodes to nested JSON or an unsendable key
    status, body = _get("/fixtures", lambda_context, next_token=token)
    # Then it is refused naming next_token
    assert (status, body["field"]) == (400, "next_token")


def _emitted(output: str, marker: str) -> list[dict[str, Any]]:
    """The embedded-metric-format documents the handler printed that mention ``marker``."""
    return [json.loads(line) for line in output.splitlines() if marker in line]


def test_an_unreadable_fixture_is_skipped_reported_and_the_rest_still_listed(
    tables: Any,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given two readable fixtures and one whose phase no model knows (written by a broken or a newer workflow)
    for fixture_id in ("FX-A", "FX-C"):
        tables.put_item(TableName="Fixtures", Item=fixture_item(fixture_id=fixture_id))
    tables.put_item(TableName="Fixtures", Item=fixture_item(fixture_id="FX-B", match_phase="extra_time"))
    capsys.readouterr()

    # When the fixtures are listed
    status, body = _get("/fixtures", lambda_context)

    # Then the others are served, and the unreadable one is logged by id and field and counted in a metric
    assert status == 200 and [f["fixture_id"] for f in body["fixtures"]] == ["FX-A", "FX-C"]
    (log,) = [record for record in caplog.records if record.getMessage() == "unreadable fixture item"]
    assert (getattr(log, "fixture_id", None), getattr(log, "field", None), log.levelname) == (
        "FX-B",
        "match_phase",
        "ERROR",
    )
    (metric,) = _emitted(capsys.readouterr().out, '"UnreadableFixtures"')
    assert metric["UnreadableFixtures"] == [1.0]
    assert {"Name": "UnreadableFixtures", "Unit": "Count"} in metric["_aws"]["CloudWatchMetrics"][0]["Metrics"]


def test_an_unreadable_fixture_read_alone_is_a_500_naming_the_field(
    tables: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given a fixture whose expected goals a workflow stored as zero (the model requires more)
    tables.put_item(TableName="Fixtures", Item=fixture_item(home_goals_expected=0))

    # When it is read
    status, body = _get(f"/fixtures/{FIXTURE_ID}", lambda_context)

    # Then the answer is the service's fault, clearly: a 500 naming the fixture and the field, not a bare 502
    assert (status, body["field"]) == (500, "home_goals_expected")
    assert FIXTURE_ID in body["message"]
