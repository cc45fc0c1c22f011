"""The query API: fixtures with their status, one fixture's state and current book, its price history (paged).

Not on the hot path: it reads what the workflows wrote. Books are stored as the JSON that is published, and a
fixture's current book is the newest one claimed for publication, so it is byte-for-byte what subscribers received.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.adapters.dynamodb_json import UnsupportedDynamoDbType, from_dynamodb_item
from lambdas.logic.trading_views import (
    QueryInputError,
    UnreadableFixture,
    decode_page_token,
    encode_page_token,
    fixture_detail,
    fixture_summary,
    page_size,
    read_fixture,
)
from lambdas.models.env import TradingQueryEnv
from lambdas.models.fixture_state import FixtureState
from lambdas.observability import logger, metrics, tracer

app = APIGatewayRestResolver()


@cache
def _environment() -> TradingQueryEnv:
    return TradingQueryEnv.model_validate(dict(os.environ))


@cache
def _dynamodb() -> Any:
    return boto3.client("dynamodb")


def reset_cached_collaborators() -> None:
    """Forget the environment and client read at cold start (tests change both)."""
    _environment.cache_clear()
    _dynamodb.cache_clear()


@app.exception_handler(QueryInputError)
def _bad_query(error: QueryInputError) -> Response:
    return Response(
        status_code=400,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": str(error), "field": error.field}),
    )


@app.exception_handler(UnreadableFixture)
def _unreadable(error: UnreadableFixture) -> Response:
    """A stored item the model refuses is the service's fault, not the caller's: a 500 that names the field."""
    _report_unreadable([error])
    return Response(
        status_code=500,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(
            {
                "message": f"fixture {error.fixture_id!r} is stored in a form this API cannot read: {error}",
                "field": error.field,
            }
        ),
    )


def _report_unreadable(unreadable: list[UnreadableFixture]) -> None:
    """One structured log line per unreadable item, and the ``UnreadableFixtures`` metric (alarmable)."""
    for error in unreadable:
        logger.error("unreadable fixture item", fixture_id=error.fixture_id, field=error.field, reason=error.reason)
    metrics.add_metric(name="UnreadableFixtures", unit=MetricUnit.Count, value=len(unreadable))
    metrics.flush_metrics()


def _fixture_state(item: dict[str, Any]) -> FixtureState:
    """The fixture a DynamoDB item holds, or :class:`UnreadableFixture` naming the field."""
    try:
        stored = from_dynamodb_item(item)
    except UnsupportedDynamoDbType as error:
        fixture_id = item.get("fixture_id", {}).get("S")
        field = str(error).split(":", 1)[0].split(".", 1)[0].split("[", 1)[0]
        raise UnreadableFixture(fixture_id, field, str(error)) from None
    return read_fixture(stored)


def _not_found(fixture_id: str) -> Response:
    return Response(
        status_code=404,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": f"fixture_id: no fixture {fixture_id!r}", "field": "fixture_id"}),
    )


@app.get("/fixtures")
@tracer.capture_method
def list_fixtures() -> dict[str, Any]:
    """Every fixture, a page at a time (a Scan: the table holds one item per fixture, hundreds, not millions)."""
    arguments: dict[str, Any] = {
        "TableName": _environment().FIXTURES_TABLE_NAME,
        "Limit": page_size(app.current_event.get_query_string_value("limit")),
    }
    start = decode_page_token(app.current_event.get_query_string_value("next_token"), key_types={"fixture_id": "S"})
    if start:
        arguments["ExclusiveStartKey"] = start
    page = _dynamodb().scan(**arguments)
    # One unreadable item must not hide every other fixture: it is skipped, logged and counted
    fixtures, unreadable = [], []
    for item in page["Items"]:
        try:
            fixtures.append(fixture_summary(_fixture_state(item)))
        except UnreadableFixture as error:
            unreadable.append(error)
    if unreadable:
        _report_unreadable(unreadable)
    return {
        "fixtures": sorted(fixtures, key=lambda fixture: fixture["fixture_id"]),
        "next_token": encode_page_token(page.get("LastEvaluatedKey")),
    }


@app.get("/fixtures/<fixture_id>")
@tracer.capture_method
def get_fixture(fixture_id: str) -> dict[str, Any] | Response:
    environment = _environment()
    found = _dynamodb().get_item(
        TableName=environment.FIXTURES_TABLE_NAME, Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
    )
    if "Item" not in found:
        return _not_found(fixture_id)
    # The newest book claimed for publication, not the newest stored: a book is stored before it is published, and
    # one whose publication failed (quarantined, then redriven) or lost its claim was never sent to subscribers.
    published = found["Item"].get("published_revision")
    books = []
    if published is not None:
        newest = _dynamodb().query(**_books_query(fixture_id, limit=1, up_to_revision=published))
        books = [json.loads(item["book"]["S"]) for item in newest["Items"]]
    return {
        "fixture": fixture_detail(_fixture_state(found["Item"]), at=datetime.now(UTC)),
        "book": books[0] if books else None,
    }


@app.get("/fixtures/<fixture_id>/prices")
@tracer.capture_method
def get_price_history(fixture_id: str) -> dict[str, Any]:
    """The fixture's books, newest first."""
    arguments = _books_query(fixture_id, limit=page_size(app.current_event.get_query_string_value("limit")))
    start = decode_page_token(
        app.current_event.get_query_string_value("next_token"), key_types={"fixture_id": "S", "revision": "N"}
    )
    if start:
        if start["fixture_id"] != {"S": fixture_id}:
            raise QueryInputError("next_token", "belongs to another fixture")
        arguments["ExclusiveStartKey"] = start
    page = _dynamodb().query(**arguments)
    return {
        "books": [json.loads(item["book"]["S"]) for item in page["Items"]],
        "next_token": encode_page_token(page.get("LastEvaluatedKey")),
    }


def _books_query(fixture_id: str, *, limit: int, up_to_revision: dict[str, str] | None = None) -> dict[str, Any]:
    condition, values = "fixture_id = :fixture_id", {":fixture_id": {"S": fixture_id}}
    if up_to_revision is not None:
        condition, values = f"{condition} AND revision <= :up_to", {**values, ":up_to": up_to_revision}
    return {
        "TableName": _environment().PRICES_TABLE_NAME,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "fixture_id, revision, book",
        "ScanIndexForward": False,
        "Limit": limit,
    }


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
