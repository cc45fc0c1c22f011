"""The capacity planner as synthesized: its schedule, its settings from config, and least-privilege IAM."""

from __future__ import annotations

import json
from typing import Any

from stacks.constants import FIXTURES_KICK_OFF_INDEX
from tests.synth import SynthesizedApp


def _planner(app: SynthesizedApp) -> tuple[str, dict[str, Any]]:
    (item,) = [
        (logical_id, resource)
        for logical_id, resource in app.resources("AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == "lambdas.handlers.plan_capacity.handler"
    ]
    return item


def _statements(app: SynthesizedApp, role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in app.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_fixtures_table_has_the_kick_off_index(prod_app: SynthesizedApp) -> None:
    # Given the fixtures table
    (table,) = [
        resource
        for logical_id, resource in prod_app.resources("AWS::DynamoDB::Table").items()
        if logical_id.startswith("TradingTablesFixtures")
    ]

    # Then its kick-off index is keyed by sport and kick-off and projects only the match phase besides
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == FIXTURES_KICK_OFF_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "sport", "KeyType": "HASH"},
        {"AttributeName": "kick_off_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"NonKeyAttributes": ["match_phase"], "ProjectionType": "INCLUDE"}


def test_planner_runs_every_quarter_hour_with_the_stage_settings(prod_app: SynthesizedApp) -> None:
    # Given the prod planner
    planner_id, planner = _planner(prod_app)
    capacity = prod_app.engine.config.big_fixture_capacity
    assert capacity is not None and capacity.table_warm_throughput is not None

    # Then a rule invokes it every 15 minutes
    (rule,) = prod_app.resources("AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [planner_id, "Arn"]}
    # and its environment carries the stage's thresholds and levels
    env = planner["Properties"]["Environment"]["Variables"]
    assert env["FIXTURES_THRESHOLD"] == str(capacity.fixtures_threshold)
    assert env["BUSY_CONCURRENCY"] == str(capacity.pricing_provisioned_concurrency)
    assert env["BASELINE_CONCURRENCY"] == str(prod_app.engine.config.pricing_provisioned_concurrency)
    assert env["WARM_READS_PER_SECOND"] == str(capacity.table_warm_throughput.read_units_per_second)
    assert env["PRICING_ALIAS"] == "live"


def test_planner_may_touch_only_the_index_the_two_tables_and_the_alias(prod_app: SynthesizedApp) -> None:
    # Given the planner's role policy
    _, planner = _planner(prod_app)
    role_id = planner["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = _statements(prod_app, role_id)
    by_action = {
        action: statement["Resource"]
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }

    # Then Query is on the kick-off index only, UpdateTable on the fixtures and prices tables only,
    assert f"/index/{FIXTURES_KICK_OFF_INDEX}" in json.dumps(by_action["dynamodb:Query"])
    assert "index/*" not in json.dumps(statements)
    update_targets = json.dumps(by_action["dynamodb:UpdateTable"])
    assert "TradingTablesFixtures" in update_targets and "TradingTablesPrices" in update_targets
    assert "TraderSettings" not in update_targets
    # and provisioned concurrency on the pricing function's "live" alias, nothing else
    (alias_id,) = [
        logical_id
        for logical_id, resource in prod_app.resources("AWS::Lambda::Alias").items()
        if resource["Properties"]["Name"] == "live"
    ]
    for action in ("Get", "Put", "Delete"):
        assert by_action[f"lambda:{action}ProvisionedConcurrencyConfig"] == {"Ref": alias_id}
    # and no wildcard resource at all apart from X-Ray
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert all(str(s["Action"]).startswith("['xray:") or "xray:" in str(s["Action"]) for s in wildcard)
