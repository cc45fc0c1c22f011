"""The AWS calls of the capacity planner: the fixtures' kick-off index, table warm throughput, and the
pricing alias's provisioned concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from lambdas.logic.capacity_plan import ScheduledFixture


class FixtureSchedule:
    """Reads fixtures by kick-off from the fixtures table's ``sport`` + ``kick_off_at`` index.

    Parameters
    ----------
    client
        A boto3 ``dynamodb`` client.
    table_name, index_name
        The fixtures table and its kick-off index (keys only, plus ``match_phase``).
    """

    def __init__(self, client: Any, *, table_name: str, index_name: str) -> None:
        self._client = client
        self._table_name = table_name
        self._index_name = index_name

    def kicking_off_between(self, sport: str, start: str, end: str) -> Iterator[ScheduledFixture]:
        """Fixtures of ``sport`` whose stored kick-off string lies in ``[start, end]``, every page."""
        arguments: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": self._index_name,
            "KeyConditionExpression": "sport = :sport AND kick_off_at BETWEEN :start AND :end",
            "ExpressionAttributeValues": {":sport": {"S": sport}, ":start": {"S": start}, ":end": {"S": end}},
        }
        while True:
            page = self._client.query(**arguments)
            for item in page.get("Items", []):
                yield ScheduledFixture(
                    fixture_id=item["fixture_id"]["S"],
                    kick_off_at=datetime.fromisoformat(item["kick_off_at"]["S"]),
                    match_phase=item.get("match_phase", {}).get("S"),
                )
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class TableWarmThroughput:
    """Reads and raises a table's warm throughput (``UpdateTable``; DynamoDB never lowers it)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def current(self, table_name: str) -> tuple[int, int]:
        warm = self._client.describe_table(TableName=table_name)["Table"].get("WarmThroughput", {})
        return int(warm.get("ReadUnitsPerSecond", 0)), int(warm.get("WriteUnitsPerSecond", 0))

    def raise_to(self, table_name: str, reads_per_second: int, writes_per_second: int) -> None:
        self._client.update_table(
            TableName=table_name,
            WarmThroughput={"ReadUnitsPerSecond": reads_per_second, "WriteUnitsPerSecond": writes_per_second},
        )


class AliasConcurrency:
    """Provisioned concurrency of one Lambda alias (``function_name`` + ``qualifier``)."""

    def __init__(self, client: Any, *, function_name: str, qualifier: str) -> None:
        self._client = client
        self._function_name = function_name
        self._qualifier = qualifier

    def current(self) -> int | None:
        """The requested provisioned concurrency, or None when the alias has none configured."""
        try:
            config = self._client.get_provisioned_concurrency_config(
                FunctionName=self._function_name, Qualifier=self._qualifier
            )
        except self._client.exceptions.ProvisionedConcurrencyConfigNotFoundException:
            return None
        return int(config["RequestedProvisionedConcurrentExecutions"])

    def set(self, value: int) -> None:
        self._client.put_provisioned_concurrency_config(
            FunctionName=self._function_name, Qualifier=self._qualifier, ProvisionedConcurrentExecutions=value
        )

    def remove(self) -> None:
        self._client.delete_provisioned_concurrency_config(FunctionName=self._function_name, Qualifier=self._qualifier)
