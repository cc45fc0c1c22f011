"""Every 15 minutes: warm the tables and the pricing Lambda before a busy kick-off, relax concurrency after."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.adapters.capacity import AliasConcurrency, FixtureSchedule, TableWarmThroughput
from lambdas.logic.capacity_plan import (
    MAX_UTC_OFFSET,
    CapacitySettings,
    concurrency_change,
    plan_capacity,
    query_window,
    warm_throughput_raise,
)
from lambdas.models.env import CapacityPlannerEnv
from lambdas.observability import logger, metrics, tracer


@cache
def _environment() -> CapacityPlannerEnv:
    return CapacityPlannerEnv.model_validate(dict(os.environ))


@dataclass(frozen=True)
class CapacityClients:
    """The boto3 clients the planner calls (tests pass their own)."""

    dynamodb: Any
    lambda_: Any


@cache
def _default_clients() -> CapacityClients:
    import boto3  # deferred: created once per cold start, after the environment is read

    return CapacityClients(dynamodb=boto3.client("dynamodb"), lambda_=boto3.client("lambda"))


def reset_cached_collaborators() -> None:
    """Forget the environment and clients read at cold start (tests change both)."""
    _environment.cache_clear()
    _default_clients.cache_clear()


def settings_from(env: CapacityPlannerEnv) -> CapacitySettings:
    return CapacitySettings(
        lead=timedelta(minutes=env.LEAD_MINUTES),
        match_length=timedelta(minutes=env.MATCH_LENGTH_MINUTES),
        fixtures_threshold=env.FIXTURES_THRESHOLD,
        busy_concurrency=env.BUSY_CONCURRENCY,
        baseline_concurrency=env.BASELINE_CONCURRENCY,
        warm_reads_per_second=env.WARM_READS_PER_SECOND or None,
        warm_writes_per_second=env.WARM_WRITES_PER_SECOND or None,
    )


def _stored(moment: datetime) -> str:
    """A bound on the stored kick-off strings (ISO 8601, seconds, no offset: compares by its date-time prefix)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    *,
    clients: CapacityClients | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Plan the next interval's capacity and apply it: raise warm throughput (never lower it), and set or
    restore the pricing alias's provisioned concurrency."""
    env = _environment()
    clients = clients or _default_clients()
    now = now or datetime.now(UTC)
    settings = settings_from(env)
    start, end = query_window(now, settings)
    schedule = FixtureSchedule(clients.dynamodb, table_name=env.FIXTURES_TABLE_NAME, index_name=env.KICK_OFF_INDEX_NAME)
    fixtures = [
        fixture
        for sport in env.SPORTS.split(",")
        for fixture in schedule.kicking_off_between(
            sport.strip(), _stored(start - MAX_UTC_OFFSET), _stored(end + MAX_UTC_OFFSET) + "~"
        )
    ]
    plan = plan_capacity(now, fixtures, settings)

    raised: dict[str, tuple[int, int]] = {}
    warm = TableWarmThroughput(clients.dynamodb)
    for table_name in env.WARM_TABLE_NAMES.split(","):
        change = warm_throughput_raise(warm.current(table_name), plan.warm_throughput)
        if change is not None:
            warm.raise_to(table_name, *change)
            raised[table_name] = change

    alias = AliasConcurrency(clients.lambda_, function_name=env.PRICING_FUNCTION_NAME, qualifier=env.PRICING_ALIAS)
    concurrency = concurrency_change(alias.current(), plan.provisioned_concurrency)
    if concurrency is not None and concurrency.action == "set":
        alias.set(concurrency.value)
    elif concurrency is not None:
        alias.remove()

    metrics.add_metric(name="FixturesInCapacityWindow", unit=MetricUnit.Count, value=len(plan.fixtures))
    logger.info(
        "capacity planned",
        busy=plan.busy,
        fixtures=list(plan.fixtures),
        warm_throughput_raised=raised,
        provisioned_concurrency=plan.provisioned_concurrency,
        concurrency_changed=concurrency is not None,
    )
    return {
        "busy": plan.busy,
        "fixtures": list(plan.fixtures),
        "warm_throughput_raised": {name: list(value) for name, value in raised.items()},
        "provisioned_concurrency": plan.provisioned_concurrency,
        "concurrency_change": None if concurrency is None else concurrency.action,
    }
