"""Stage configuration from cdk.json: both stages load, and a mistake names the field or stage."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from stacks.config import load_stage_config
from stacks.constants import PROJECT_ROOT

CONTEXT = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def _stages(**dev_changes: object) -> dict:
    stages = json.loads(json.dumps(CONTEXT["trading-engine:stages"]))
    stages["dev"].update(dev_changes)
    return {"trading-engine:stages": stages}


def test_dev_and_prod_differ_where_production_needs_it() -> None:
    # Given both stages
    dev, prod = load_stage_config(CONTEXT, "dev"), load_stage_config(CONTEXT, "prod")

    # Then prod is protected, pre-warmed, sampled less and kept warm; dev is cheap
    assert (dev.deletion_protection, prod.deletion_protection) == (False, True)
    assert dev.table_warm_throughput is None and prod.table_warm_throughput is not None
    assert prod.xray_sampling_rate < dev.xray_sampling_rate
    assert dev.pricing_provisioned_concurrency == 0 < prod.pricing_provisioned_concurrency
    assert dev.alarm_email is None and prod.alarm_email


def test_unknown_stage_names_the_stage_and_the_choices() -> None:
    with pytest.raises(ValueError, match=r"stage: 'qa' is not in .*\['dev', 'prod'\]"):
        load_stage_config(CONTEXT, "qa")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"log_retention_days": 8}, "log_retention_days"),
        ({"xray_sampling_rate": 1.5}, "xray_sampling_rate"),
        ({"table_capacity": {"mode": "burst"}}, "table_capacity"),
        (
            {"table_warm_throughput": {"read_units_per_second": 10, "write_units_per_second": 10}},
            "read_units_per_second",
        ),
        ({"alarm_email": "not-an-address"}, "alarm_email"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_values_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        load_stage_config(_stages(**changes), "dev")


def test_provisioned_capacity_is_accepted() -> None:
    # Given a stage switched to provisioned capacity with auto-scaling bounds
    config = load_stage_config(
        _stages(table_capacity={"mode": "provisioned", "read_min": 5, "read_max": 50, "write_min": 5, "write_max": 50}),
        "dev",
    )

    # Then it loads with those bounds
    assert config.table_capacity.mode == "provisioned" and config.table_capacity.read_max == 50
