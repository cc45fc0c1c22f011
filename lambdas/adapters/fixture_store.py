"""Reads of the fixtures and prices tables for the feed task (the workflow does every write)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3

from lambdas.models.env import FixtureTablesEnv


class FixtureStore:
    """The fixture item and a stored book's source event, read with strong consistency.

    Parameters
    ----------
    client
        A boto3 DynamoDB client (injected: tests pass moto's).
    fixtures_table, prices_table
        The tables' names.
    """

    def __init__(self, *, client: Any, fixtures_table: str, prices_table: str) -> None:
        self._client = client
        self._fixtures_table = fixtures_table
        self._prices_table = prices_table

    def fixture(self, fixture_id: str) -> dict[str, Any] | None:
        """The fixture item in DynamoDB's typed JSON, or None."""
        answer = self._client.get_item(
            TableName=self._fixtures_table, Key={"fixture_id": {"S": fixture_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def applied_event(self, fixture_id: str, revision: int) -> str | None:
        """The raw event (canonical JSON) whose write produced ``revision``, from its stored book."""
        answer = self._client.get_item(
            TableName=self._prices_table,
            Key={"fixture_id": {"S": fixture_id}, "revision": {"N": str(revision)}},
            ProjectionExpression="source_event_body",
            ConsistentRead=True,
        )
        body = answer.get("Item", {}).get("source_event_body", {}).get("S")
        return body if isinstance(body, str) else None


@cache
def default_fixture_store() -> FixtureStore:
    """The store of a function's cold start: the tables named in its environment, boto3's default client."""
    env = FixtureTablesEnv.model_validate(os.environ)
    return FixtureStore(
        client=boto3.client("dynamodb"), fixtures_table=env.FIXTURES_TABLE_NAME, prices_table=env.PRICES_TABLE_NAME
    )
